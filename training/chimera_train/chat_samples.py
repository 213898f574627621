"""Synthetic chat samples mined from the corpus, so chat, Explain and Refactor have a format to follow.

From a documented function we make:
- explain: the code without its documentation -> the documentation's prose;
- write: the summary and signature -> the code;
- edit: an instruction we can carry out mechanically (rename an identifier, drop comments) -> the result.
"""
from __future__ import annotations

import ast
import random
import re
import textwrap
from typing import Iterator

from .templates import TASK_PROMPTS

MAX_CODE_CHARS = 1500
LANG_NAMES = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript"}
NEW_NAMES = ["value", "result", "item", "data", "count", "index", "node", "entry", "total", "current"]

Messages = list[tuple[str, str]]


def chat_examples(doc: dict, rng: random.Random, rate: float) -> Iterator[Messages]:
    if rng.random() >= rate:
        return
    units = list(python_units(doc["text"]) if doc["lang"] == "python" else jsdoc_units(doc["text"]))
    if not units:
        return
    name, doc_text, code, bare = rng.choice(units)
    kind = rng.choice(["explain", "write", "edit"])
    lang = doc["lang"]
    if kind == "explain":
        user = TASK_PROMPTS["explain"].format(lang=lang, code=bare)
        yield [("user", user), ("assistant", f"`{name}`: {doc_text}")]
    elif kind == "write":
        signature = code.strip().splitlines()[0].strip().rstrip("{:").strip()
        user = TASK_PROMPTS["write"].format(lang_name=LANG_NAMES[lang], signature=signature,
                                            summary=first_sentence(doc_text))
        yield [("user", user), ("assistant", f"```{lang}\n{code}\n```")]
    else:
        edited = mechanical_edit(bare, lang, rng)
        if edited is not None:
            instruction, result = edited
            user = TASK_PROMPTS["edit"].format(instruction=instruction, lang=lang, code=bare)
            yield [("user", user), ("assistant", f"```{lang}\n{result}\n```")]


def first_sentence(text: str) -> str:
    para = text.strip().split("\n\n")[0].replace("\n", " ")
    match = re.match(r"(.+?[.!?])(\s|$)", para)
    return (match.group(1) if match else para)[:300]


def clean_doc(text: str) -> str | None:
    text = textwrap.dedent(text).strip()
    para = text.split("\n\n")[0].strip()
    if not (20 <= len(para) <= 600) or para.startswith((":", "@", "#")):
        return None
    return para


def python_units(source: str) -> Iterator[tuple[str, str, str, str]]:
    """(name, doc prose, full code, code without docstring) for documented functions."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    lines = source.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node)
        prose = clean_doc(doc) if doc else None
        if prose is None or not node.body or node.end_lineno is None:
            continue
        start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
        code = textwrap.dedent("\n".join(lines[start : node.end_lineno]))
        if len(code) > MAX_CODE_CHARS or len(node.body) < 2:
            continue
        ds = node.body[0]
        bare_lines = lines[start : ds.lineno - 1] + lines[ds.end_lineno : node.end_lineno]
        yield node.name, prose, code, textwrap.dedent("\n".join(bare_lines))


JSDOC = re.compile(
    r"/\*\*(?P<doc>(?:[^*]|\*(?!/))*)\*/\s*\n(?P<indent>[ \t]*)(?P<decl>(?:export\s+)?(?:default\s+)?"
    r"(?:async\s+)?(?:function\s*\*?\s*(?P<fn>\w+)|(?:public\s+|private\s+|protected\s+|static\s+)*"
    r"(?P<method>\w+)\s*(?:<[^>]*>)?\s*\([^)]*\)\s*(?::\s*[^{]+)?)[^{;]*\{)"
)


def jsdoc_units(source: str) -> Iterator[tuple[str, str, str, str]]:
    for match in JSDOC.finditer(source):
        name = match.group("fn") or match.group("method")
        if not name or name in ("if", "for", "while", "switch", "catch", "function", "return"):
            continue
        body_start = match.end() - 1
        body_end = matching_brace(source, body_start)
        if body_end is None:
            continue
        prose_lines = [re.sub(r"^\s*\* ?", "", line) for line in match.group("doc").splitlines()]
        prose = clean_doc("\n".join(l for l in prose_lines if not l.strip().startswith("@")))
        if prose is None:
            continue
        indent = match.group("indent")
        bare = textwrap.dedent(indent + source[match.start("decl") : body_end + 1])
        if len(bare) > MAX_CODE_CHARS or bare.count("\n") < 2:
            continue
        doc_block = textwrap.dedent(indent + source[match.start() : match.start("decl")]).rstrip() + "\n"
        yield name, prose, doc_block + bare, bare


def matching_brace(source: str, open_at: int) -> int | None:
    """Index of the brace closing the one at open_at, skipping strings and comments roughly."""
    depth, i, n = 0, open_at, len(source)
    while i < n and i - open_at < MAX_CODE_CHARS * 2:
        ch = source[i]
        if ch in "'\"`":
            end = source.find(ch, i + 1)
            while end != -1 and source[end - 1] == "\\":
                end = source.find(ch, end + 1)
            if end == -1:
                return None
            i = end
        elif source.startswith("//", i):
            i = source.find("\n", i)
            if i == -1:
                return None
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def identifiers(code: str, lang: str) -> list[str]:
    keywords = {"self", "this", "return", "const", "let", "var", "function", "def", "class", "None", "True",
                "False", "null", "undefined", "true", "false", "new", "await", "async", "import", "from"}
    names = re.findall(r"\b([a-z_][a-zA-Z0-9_]{2,})\s*=(?!=)", code)
    return sorted({n for n in names if n not in keywords})


def mechanical_edit(code: str, lang: str, rng: random.Random) -> tuple[str, str] | None:
    comment = "#" if lang == "python" else "//"
    options = []
    names = identifiers(code, lang)
    if names:
        old = rng.choice(names)
        new = rng.choice([n for n in NEW_NAMES if n not in code] or ["renamed"])
        options.append((f"Rename `{old}` to `{new}`", re.sub(rf"\b{re.escape(old)}\b", new, code)))
    stripped = "\n".join(l for l in code.splitlines() if not l.strip().startswith(comment))
    if stripped != code:
        options.append(("Remove the comments", stripped))
    if lang == "python" and "    " in code:
        options.append(("Use two-space indentation",
                        "\n".join(re.sub(r"^((?:    )+)", lambda m: "  " * (len(m.group(1)) // 4), l)
                                  for l in code.splitlines())))
    return rng.choice(options) if options else None

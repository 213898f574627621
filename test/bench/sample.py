import json
import os


def load_settings(path):
    """Read a JSON settings file, returning an empty dict when it does not exist."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def save_settings(path, settings):
    """Write the settings as indented JSON."""

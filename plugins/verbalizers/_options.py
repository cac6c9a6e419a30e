"""Option schemas shared by the verbalizer kinds in this folder.

Every kind accepts `calibrate` and `multi_token`; the fragments live here once so the kinds
cannot drift apart. (The manual verbalizer declares the same two options.)
"""
from __future__ import annotations

CALIBRATE = {
    "enum": ["none", "contextual", "prior"], "default": "none",
    "description": "contextual: divide by the prediction on a content-free input (Zhao et al. "
                   "2021); prior: divide by the mean prediction over the unlabelled data",
}
MULTI_TOKEN = {
    "enum": ["mean", "first", "max"], "default": "mean",
    "description": "how a label word split into several tokens is scored",
}
SHARED = {"calibrate": CALIBRATE, "multi_token": MULTI_TOKEN}


def kind_schema(**properties) -> dict:
    """A closed options schema: the shared options plus this kind's own."""
    from promptdsl.specs import options_schema
    return options_schema({**SHARED, **properties})

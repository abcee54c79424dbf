"""The one tolerant YAML reader of the git engine: plain data, read the way ``kubectl kustomize`` (Go's yaml.v3)
reads it."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode


class _PlainConstructor(SafeConstructor):
    """Reads what ``kubectl kustomize`` (Go's yaml.v3) reads: the value tag ``=`` (``matchType: =``) as the string
    "=", and any unknown tag (``!Ref x``) as the plain scalar, mapping or sequence it carries."""

    def construct_plain(self, node: Node) -> Any:
        if isinstance(node, MappingNode):
            return self.construct_mapping(node, deep=True)
        if isinstance(node, SequenceNode):
            return self.construct_sequence(node, deep=True)
        return self.construct_scalar(node)


_PlainConstructor.add_constructor("tag:yaml.org,2002:value", _PlainConstructor.construct_plain)
_PlainConstructor.add_constructor(None, _PlainConstructor.construct_plain)


def plain_load(text: str) -> Any:
    """Plain data of one YAML document, read as kubectl kustomize reads it (see _PlainConstructor)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Constructor = _PlainConstructor
    return yaml.load(text)

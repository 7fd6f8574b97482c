"""kubectl as the plugin calls it: with the user's --kubeconfig and --context, so it authenticates exactly
as kubectl does."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any


class PluginError(Exception):
    """A kubectl call failed, or the request makes no sense; the message says which."""


@dataclass(frozen=True)
class Kubectl:
    """Runs kubectl with the user's --kubeconfig/--context."""

    kubeconfig: str | None = None
    context: str | None = None

    def run(self, *args: str) -> str:
        """`kubectl ARGS...`'s output; PluginError with kubectl's message when it fails."""
        command = ["kubectl"]
        if self.kubeconfig:
            command.append(f"--kubeconfig={self.kubeconfig}")
        if self.context:
            command.append(f"--context={self.context}")
        try:
            done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise PluginError("kubectl is not on PATH") from None
        if done.returncode != 0:
            raise PluginError(done.stderr.strip() or f"kubectl {' '.join(args)} failed")
        return done.stdout

    def json(self, *args: str) -> dict[str, Any]:
        """`kubectl ARGS... -o json`, parsed."""
        parsed: dict[str, Any] = json.loads(self.run(*args, "-o", "json"))
        return parsed


def scope(namespace: str | None, all_namespaces: bool) -> list[str]:
    """The namespace flags of a request: every namespace, the given one, or the context's."""
    if all_namespaces:
        return ["--all-namespaces"]
    return ["--namespace", namespace] if namespace else []

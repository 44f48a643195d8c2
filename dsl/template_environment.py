"""What the environment that will send notifications offers templates: its secrets.

    ruleset, diagnostics = dsl.load(files, context=TemplateEnvironment(secrets=names))

`tocsin lint` checks rule text alone and passes no environment, so its result is the
same on every machine. The service passes the secrets its own process can see
(`TOCSIN_SECRET_<NAME>`, `TOCSIN_SECRETS_FILE`, read as `delivery.secrets.Secrets` reads
them; the delivery workers are expected to share that environment, as they do in
docker-compose.yml): a `{{ secrets.NAME }}` it lacks is W505, from validate, on `PUT`,
and in the log of a reload. Only names written out are checked: `secrets[x]` is not.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from dsl import ast as A
from dsl.diagnostics import Diagnostic, warning
from dsl.template_paths import TemplateAnalysis
from dsl.template_spans import text_span


@dataclass(frozen=True, slots=True)
class TemplateEnvironment:
    """`secrets`: the names that are set (None: unknown, nothing is checked)."""

    secrets: Container[str] | None = None


def unset_secrets(s: A.String, analysis: TemplateAnalysis, env: TemplateEnvironment | None) -> list[Diagnostic]:
    """W505 for each `secrets.NAME` in `s` that `env` does not have."""
    if env is None or env.secrets is None:
        return []
    out = []
    for use in analysis.paths:
        if use.root != "secrets" or not use.steps or use.steps[0] in env.secrets:
            continue
        name = use.steps[0]
        out.append(warning(text_span(s, use.start, use.end(1)), "W505",
                           f"secret `{name}` is not set where the service runs: a template using it "
                           "falls back to the standard text, a URL or routing key fails the delivery",
                           f"set TOCSIN_SECRET_{name}, or {name} in the file TOCSIN_SECRETS_FILE names"))
    return out

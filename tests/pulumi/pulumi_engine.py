"""A stand-in for the Pulumi engine's side of the provider protocol, for tests.

``ProviderHost`` starts the SDK's real dynamic provider host (``python -m pulumi.dynamic``)
the way the engine does: with the project root as working directory; it prints its port on
stdout; we talk gRPC to it (``ResourceProvider`` service). Properties are marshalled the way
the engine marshals them:

- ``Configure`` gets the whole stack config, secret values wrapped in the secret signature
  object (``{"4dabf...": "1b470...", "value": ...}``) because the engine always sends secrets
  to Configure;
- after Configure answered ``acceptSecrets=False`` (the dynamic host always does), every
  later request carries secrets as PLAIN values, and the engine re-marks the results itself:
  an output (or checked input) is secret when the input under the same key was secret, or
  when it is an additional secret output (``annotateSecrets`` in the engine);
- numbers travel as protobuf doubles; values not known yet (preview) as the UNKNOWN string.

``SimulatedState`` keeps what the engine would keep per resource (inputs, outputs, secret
keys) and writes it like a checkpoint: secrets as ciphertext objects, encrypted with a
stack-specific key as the passphrase secrets provider does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography.fernet import Fernet
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def urn(stack: str, type_: str, name: str, project: str = "smtp-iac") -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def to_struct(
    props: dict[str, Any], secret_keys: Iterable[str] = (), *, wrap_secrets: bool = True
) -> struct_pb2.Struct:
    secret_keys = set(secret_keys)
    out: dict[str, Any] = {}
    for key, value in props.items():
        if wrap_secrets and key in secret_keys:
            value = {SIG_KEY: SECRET_SIG, "value": value}
        out[key] = value
    s = struct_pb2.Struct()
    s.update(out)
    return s


def from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(s)


class HostError(Exception):
    """The host aborted a call (the provider raised): ``details`` is what the engine would show."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self.code = code
        self.details = details


DYNAMIC_HOST = (sys.executable, "-m", "pulumi.dynamic")


class ProviderHost:
    """A real provider plugin in a child process, driven over gRPC: by default the SDK's dynamic
    provider host; ``command`` starts another (the native plugin: ``pulumi-resource-smtp-iac``,
    given the engine's address as its argument, as the engine starts plugins)."""

    def __init__(
        self, cwd: Path, stderr_path: Path, env: dict[str, str] | None = None, command: Iterable[str] = DYNAMIC_HOST
    ):
        # nothing of smtp-iac's own environment leaks in: store and key must come through Configure
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_IAC_")}
        full_env.update(env or {})
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")  # noqa: SIM115 - held by the host process, closed in close()
        self.proc = subprocess.Popen(
            list(command),
            cwd=str(cwd),
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.close()
            err = stderr_path.read_text(errors="replace")
            raise RuntimeError(f"dynamic provider host did not print its port: {line!r} {err}")
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.accept_secrets = True  # until Configure says otherwise

    def close(self) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def stderr(self) -> str:
        """What the host wrote on stderr so far (the engine would show it as diagnostics)."""
        return self.stderr_path.read_text(errors="replace")

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=120)
        except grpc.RpcError as e:
            raise HostError(e.code(), e.details()) from None

    def _props(self, props: dict[str, Any], secret_keys: Iterable[str]) -> struct_pb2.Struct:
        return to_struct(props, secret_keys, wrap_secrets=self.accept_secrets)

    # ----- the protocol --------------------------------------------------------------
    def configure(
        self, config: dict[str, Any], secret_keys: Iterable[str] = (), variables: dict[str, str] | None = None
    ) -> provider_pb2.ConfigureResponse:
        req = provider_pb2.ConfigureRequest(
            args=to_struct(config, secret_keys, wrap_secrets=True),  # Configure always gets secrets wrapped
            variables=variables or {},
            acceptSecrets=True,
            acceptResources=True,
        )
        resp = self._call("Configure", req)
        self.accept_secrets = resp.acceptSecrets
        return resp

    def plugin_info(self) -> str:
        return self._call("GetPluginInfo", empty_pb2.Empty()).version

    def schema(self) -> str:
        return self._call("GetSchema", provider_pb2.GetSchemaRequest(version=0)).schema

    def check_config(self, urn_: str, news: dict, secret_keys: Iterable[str] = ()):
        resp = self._call(
            "CheckConfig",
            provider_pb2.CheckRequest(
                urn=urn_, olds=to_struct({}, ()), news=to_struct(news, secret_keys, wrap_secrets=True)
            ),
        )
        return [(f.property, f.reason) for f in resp.failures]

    def invoke(self, tok: str, args: dict):
        resp = self._call("Invoke", provider_pb2.InvokeRequest(tok=tok, args=to_struct(args, ())))
        return from_struct(getattr(resp, "return")), [(f.property, f.reason) for f in resp.failures]

    def check(self, urn_: str, olds: dict, news: dict, secret_keys: Iterable[str] = ()):
        resp = self._call(
            "Check",
            provider_pb2.CheckRequest(
                urn=urn_, olds=self._props(olds, secret_keys), news=self._props(news, secret_keys)
            ),
        )
        return from_struct(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, urn_: str, id_: str, olds: dict, news: dict, secret_keys: Iterable[str] = ()):
        return self._call(
            "Diff",
            provider_pb2.DiffRequest(
                id=id_, urn=urn_, olds=self._props(olds, secret_keys), news=self._props(news, secret_keys)
            ),
        )

    def create(self, urn_: str, props: dict, secret_keys: Iterable[str] = (), preview: bool = False):
        resp = self._call(
            "Create", provider_pb2.CreateRequest(urn=urn_, properties=self._props(props, secret_keys), preview=preview)
        )
        return resp.id, from_struct(resp.properties)

    def read(self, urn_: str, id_: str, props: dict, inputs: dict, secret_keys: Iterable[str] = ()):
        resp = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=id_, urn=urn_, properties=self._props(props, secret_keys), inputs=self._props(inputs, secret_keys)
            ),
        )
        return resp.id, from_struct(resp.properties), from_struct(resp.inputs)

    def update(
        self, urn_: str, id_: str, olds: dict, news: dict, secret_keys: Iterable[str] = (), preview: bool = False
    ):
        resp = self._call(
            "Update",
            provider_pb2.UpdateRequest(
                id=id_,
                urn=urn_,
                olds=self._props(olds, secret_keys),
                news=self._props(news, secret_keys),
                preview=preview,
            ),
        )
        return from_struct(resp.properties)

    def delete(self, urn_: str, id_: str, props: dict, secret_keys: Iterable[str] = ()) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=urn_, properties=self._props(props, secret_keys)))


# ----- the engine's bookkeeping ---------------------------------------------------------------


def annotate_secrets(outs: dict[str, Any], secret_keys: Iterable[str]) -> set[str]:
    """The engine's rule for a provider that does not accept secrets: an output is secret when
    the input under the same key was secret (or it is an additional secret output)."""
    return {k for k in outs if k in set(secret_keys)}


@dataclass
class ResourceState:
    urn: str
    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    secret_inputs: set[str] = field(default_factory=set)
    secret_outputs: set[str] = field(default_factory=set)


class SimulatedState:
    """What the engine would checkpoint after each step, written as JSON with secrets encrypted."""

    def __init__(self, path: Path):
        self.path = path
        self.resources: dict[str, ResourceState] = {}
        self._fernet = Fernet(Fernet.generate_key())  # the stack's secrets-provider key
        self.history: list[str] = []

    def record(self, res: ResourceState) -> None:
        self.resources[res.urn] = res
        self.write()

    def forget(self, urn_: str) -> None:
        self.resources.pop(urn_, None)
        self.write()

    def _value(self, value: Any, secret: bool) -> Any:
        if not secret:
            return value
        return {SIG_KEY: SECRET_SIG, "ciphertext": self._fernet.encrypt(json.dumps(value).encode()).decode()}

    def write(self) -> None:
        doc = {
            "version": 3,
            "deployment": {
                "resources": [
                    {
                        "urn": r.urn,
                        "type": r.type,
                        "id": r.id,
                        "custom": True,
                        "inputs": {k: self._value(v, k in r.secret_inputs) for k, v in r.inputs.items()},
                        "outputs": {k: self._value(v, k in r.secret_outputs) for k, v in r.outputs.items()},
                    }
                    for r in self.resources.values()
                ]
            },
        }
        text = json.dumps(doc, indent=2, sort_keys=True)
        self.path.write_text(text)
        self.history.append(text)

    def text(self) -> str:
        """Every checkpoint written so far (the engine writes one after each step)."""
        return "\n".join(self.history)

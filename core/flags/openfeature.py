"""An OpenFeature provider over the kafkaops flag client, for services that use the standard
`openfeature-sdk` API:

    from openfeature import api
    from kafkaops.core.flags.sdk import FlagClient
    from kafkaops.core.flags.openfeature import KafkaOpsProvider

    client = FlagClient("kafka:9092", snapshot_path="/var/lib/svc/flags.json",
                        verify_key=os.environ["KAFKAOPS_FLAGS_VERIFY_KEY"])  # ed25519:...
    await client.start()
    api.set_provider(KafkaOpsProvider(client))
    of = api.get_client()
    of.get_boolean_value("new-checkout", False, EvaluationContext("user-42", {"region": "eu"}))

The evaluation context's targeting key is the user key; its attributes feed the targeting
rules. Evaluation is the SDK's, done locally. Unknown flags raise FLAG_NOT_FOUND and a flag of
another type TYPE_MISMATCH (OpenFeature then returns the caller's default). The flag's
version and whether the value may be stale go into the flag metadata; the provider emits
PROVIDER_STALE / PROVIDER_READY when the client loses or regains Kafka, and
PROVIDER_CONFIGURATION_CHANGED for each change.

Records are verified by the client: give it `verify_key` (the provider serves only what the
client applied; a forged or unsigned record never reaches OpenFeature).

This is the only kafkaops module that imports openfeature; the rest of core works without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import FlagNotFoundError, TypeMismatchError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from kafkaops.core.flags.evaluation import Evaluation
from kafkaops.core.flags.model import FlagState
from kafkaops.core.flags.sdk import FlagClient
from kafkaops.core.flags.sdk_status import ClientStatus

#: kafkaops evaluation reasons as OpenFeature reasons
REASONS: dict[str, str] = {
    "on": Reason.STATIC,
    "rollout": Reason.SPLIT,
    "variant": Reason.SPLIT,
    "targeting_match": Reason.TARGETING_MATCH,
    "disabled": Reason.DISABLED,
    "targeting_miss": Reason.DEFAULT,
    "outside_rollout": Reason.DEFAULT,
    "no_user_key": Reason.DEFAULT,
}


class KafkaOpsProvider(AbstractProvider):
    """OpenFeature provider reading a started `FlagClient` (its lifecycle stays the
    caller's: start it before, stop it after)."""

    def __init__(self, client: FlagClient) -> None:
        super().__init__()
        self.client = client
        self._unsubscribe = [
            client.on_change(self._changed),
            client.on_status(self._status),
        ]

    def get_metadata(self) -> Metadata:
        return Metadata(name="kafkaops")

    def shutdown(self) -> None:
        for remove in self._unsubscribe:
            remove()
        self._unsubscribe = []

    # -------------------------------------------------------- events

    def _changed(self, key: str, state: FlagState | None) -> None:
        self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=[key]))

    def _status(self, status: ClientStatus) -> None:
        details = ProviderEventDetails(message=status.message)
        if status.stale:
            self.emit_provider_stale(details)
        else:
            self.emit_provider_ready(details)

    # -------------------------------------------------------- resolution

    def _resolve(
        self,
        key: str,
        default: Any,
        context: EvaluationContext | None,
        kind: str,
    ) -> Evaluation:
        state = self.client.get(key)
        if state is None:
            raise FlagNotFoundError(f"no flag named {key!r}")
        if state.type != kind:
            raise TypeMismatchError(f"flag {key!r} is a {state.type} flag, not {kind}")
        user = context.targeting_key if context is not None else None
        attrs: Mapping[str, Any] = context.attributes if context is not None else {}
        return self.client.evaluate(key, user, attrs, default)

    @staticmethod
    def _details(ev: Evaluation, value: Any) -> FlagResolutionDetails[Any]:
        metadata: dict[str, bool | int | float | str] = {"stale": ev.stale, "detail": ev.detail}
        if ev.version is not None:
            metadata["version"] = ev.version
        variant = ev.variant
        if variant is None:
            variant = "on" if ev.reason in ("on", "rollout", "targeting_match") else "off"
        return FlagResolutionDetails(
            value=value,
            reason=REASONS.get(ev.reason, Reason.UNKNOWN),
            variant=variant,
            flag_metadata=metadata,
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        ev = self._resolve(flag_key, default_value, evaluation_context, "bool")
        return self._details(ev, bool(ev.value))

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        ev = self._resolve(flag_key, default_value, evaluation_context, "string")
        return self._details(ev, str(ev.value))

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        ev = self._resolve(flag_key, default_value, evaluation_context, "number")
        value = ev.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeMismatchError(f"flag {flag_key!r} serves {value!r}, not an integer")
        return self._details(ev, value)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        ev = self._resolve(flag_key, default_value, evaluation_context, "number")
        return self._details(ev, float(ev.value))

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        ev = self._resolve(flag_key, default_value, evaluation_context, "json")
        if not isinstance(ev.value, dict | list):
            raise TypeMismatchError(
                f"flag {flag_key!r} serves {ev.value!r}, not a JSON object or array"
            )
        return self._details(ev, ev.value)

"""Versions made from versions: splits registered with their rule, contracts kept with data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from perennia.data import session
from perennia.data.versions import load, register
from perennia.errors import InvalidInput

if TYPE_CHECKING:
    from perennia.data.contracts import Contract, ValidationResult
    from perennia.entities import DatasetVersion


def split(
    ref: str | DatasetVersion,
    *,
    by: str = "random",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    names: Sequence[str] = ("train", "validation", "test"),
    seed: int = 0,
    label: str | None = None,
    group: str | None = None,
    time: str | None = None,
    key: str | None = None,
) -> dict[str, DatasetVersion]:
    """Split a table version and register each part as `<name>-<part>`; return them by part.

    Each part records the version it came from and the rule (how, fractions, seed, columns),
    and the split is refused if a `key` or `group` value would appear in two parts.
    """
    from perennia.data.prepare.split import split_frame

    version = session.resolve(ref)
    frame = load(version, context=None)
    parts, rule = split_frame(
        frame,
        by=by,
        fractions=tuple(fractions),
        names=tuple(names),
        seed=seed,
        label=label,
        group=group,
        time=time,
        key=key,
    )
    return {
        part: register(
            f"{version.name}-{part}",
            data,
            description=f"{part} part of {version.ref} ({by} split)",
            parents=[version.ref],
            derivation={"split": rule, "part": part},
        )
        for part, data in parts.items()
    }


def set_contract(ref: str | DatasetVersion, contract: Contract) -> None:
    """Keep `contract` with the version `ref` names (the contract it is validated against)."""
    store = session.current_store()
    version = session.resolve(ref, store)
    store.datasets.set_contract(
        version.name, version.version, contract.to_dict(), session.acting_user()
    )


def get_contract(ref: str | DatasetVersion) -> Contract:
    """Return the contract kept with the version (InvalidInput when it has none)."""
    from perennia.data.contracts import Contract

    version = session.resolve(ref)
    if version.contract is None:
        raise InvalidInput(
            f"{version.ref} has no contract; infer one with perennia.data.infer_contract(data) "
            "and keep it with perennia.data.set_contract(ref, contract)"
        )
    return Contract.from_dict(version.contract)


def validate(
    data: Any, contract: Contract | None = None, *, environment: str | None = None
) -> ValidationResult:
    """Return `data` validated against `contract`; `data` may be a frame or a version
    reference (`name@3`), whose kept contract is the default."""
    from perennia.data.contracts import validate as check
    from perennia.entities import DatasetVersion

    if isinstance(data, str | DatasetVersion):
        version = session.resolve(data)
        chosen = contract or get_contract(version)
        return check(load(version, context="validation"), chosen, environment=environment)
    if contract is None:
        raise InvalidInput("validate(frame, contract): a frame needs a contract to check against")
    return check(data, contract, environment=environment)

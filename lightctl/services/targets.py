"""Resolve a Target to the frozen set of lantern ids it reaches."""

from __future__ import annotations

from sqlmodel import Session

from lightctl.domain.targets import ResolvedTarget, TargetSpec
from lightctl.errors import FieldProblem, InvalidRequest, summarise
from lightctl.geo.names import normalize_street_name, suggest
from lightctl.store import lanterns as lantern_store


class TargetResolver:
    """Street and lantern-id selectors against the stored inventory."""

    def resolve(
        self, session: Session, spec: TargetSpec, loc: tuple[str, ...] = ("target",)
    ) -> ResolvedTarget:
        if spec.is_empty():
            raise InvalidRequest.at(loc, "target is empty: give lanterns or streets")
        unsupported = [
            name
            for name, value in (
                ("groups", spec.groups),
                ("area", spec.area),
                ("circle", spec.circle),
                ("route", spec.route),
            )
            if value
        ]
        if unsupported:
            raise InvalidRequest.at(
                (*loc, unsupported[0]), "this selector is not available in this version"
            )
        problems: list[FieldProblem] = []
        chosen: dict[str, None] = {}
        streets: list[str] = []
        if spec.lanterns:
            found = lantern_store.existing_ids(session, list(spec.lanterns))
            for i, lantern_id in enumerate(spec.lanterns):
                if lantern_id not in found:
                    problems.append(
                        FieldProblem((*loc, "lanterns", i), "unknown lantern id", lantern_id)
                    )
                else:
                    chosen[lantern_id] = None
        if spec.streets:
            known = lantern_store.street_names(session)
            keys: list[str] = []
            for i, name in enumerate(spec.streets):
                key = normalize_street_name(name)
                if key in known:
                    keys.append(key)
                    streets.append(known[key])
                else:
                    problems.append(
                        FieldProblem(
                            (*loc, "streets", i),
                            "no lantern stands on a street of this name",
                            name,
                            tuple(suggest(name, list(known.values()))),
                        )
                    )
            if not problems:
                for ids in lantern_store.ids_on_streets(session, keys).values():
                    for lantern_id in sorted(ids):
                        chosen[lantern_id] = None
        if problems:
            raise InvalidRequest(summarise(problems), problems)
        if spec.exclude is not None:
            excluded = self.resolve(session, spec.exclude, (*loc, "exclude"))
            for lantern_id in excluded.lantern_ids:
                chosen.pop(lantern_id, None)
        return ResolvedTarget(tuple(chosen), tuple(dict.fromkeys(streets)))

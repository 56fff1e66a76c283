"""Orchestration: build a lab, enforce a policy set, probe, compare with the engine, tear down.

``Lab`` is a built lab. One lab serves any number of policy sets over the same pods (labels may
differ between them: labels do not change the data plane)::

    with Lab.up(snapshot, prefix="kf", mode=Mode.VXLAN, probes=probes) as lab:
        for policies in policy_sets:
            report = lab.check(snapshot, policies, probes, AgentEnforcer)
            assert not report.discrepancies

``run_lab`` is the one-shot form behind ``kubefence lab run``: up → check → down (always).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefence.engine.endpoints import Universe
from kubefence.engine.matrix import ReachabilityMatrix, Verdicts
from kubefence.engine.resolve import Resolution
from kubefence.errors import LabError
from kubefence.lab import netns
from kubefence.lab.compare import Discrepancy, compare
from kubefence.lab.names import DEFAULT_PREFIX
from kubefence.lab.plan import Endpoint, LabPlan, Mode
from kubefence.lab.probe import DEFAULT_TIMEOUT, all_pairs, probe_pairs, probe_tuples, to_verdicts
from kubefence.lab.servers import ServerProcess, start_server
from kubefence.lab.state import LabState, load_state, log_path, remove_state, save_state
from kubefence.lab.topology import lab_snapshot, plan_lab

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kubefence.cluster.snapshot import ClusterSnapshot
    from kubefence.engine.probes import Probe
    from kubefence.ir.addresses import IPAddress
    from kubefence.ir.model import Policy
    from kubefence.lab.enforce import Enforcer, EnforcerFactory

__all__ = ["DETACHED_LIFETIME", "RUN_LIFETIME", "Lab", "LabReport", "reclaim_crashed", "run_lab"]

DETACHED_LIFETIME = 3600.0
RUN_LIFETIME = 3600.0
RETRY_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class LabReport:
    """Predicted vs observed verdicts of one policy set, and where they differ."""

    predicted: Verdicts
    observed: Verdicts
    discrepancies: tuple[Discrepancy, ...]

    def to_json(self) -> dict[str, object]:
        def side(v: Verdicts) -> dict[str, object]:
            return {"allowed": [list(r) for r in v.allowed], "denied": [list(r) for r in v.denied]}

        return {
            "predicted": side(self.predicted),
            "observed": side(self.observed),
            "discrepancies": [d.to_json() for d in self.discrepancies],
        }


class Lab:
    """A built lab: namespaces, links, routes and a running server, known by its plan."""

    def __init__(self, state: LabState, *, detached: bool) -> None:
        self.plan: LabPlan = state.plan
        self.state = state
        self.detached = detached
        self._enforcer: Enforcer | None = None

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    def up(
        cls,
        snapshot: ClusterSnapshot,
        *,
        prefix: str = DEFAULT_PREFIX,
        mode: Mode = Mode.HOST_GW,
        node_count: int = 2,
        outside: Sequence[ipaddress.IPv4Address] = (),
        probes: Sequence[Probe] = (),
        detached: bool = False,
        lifetime: float | None = None,
    ) -> Lab:
        """Build the lab for ``snapshot`` and start its servers on ``probes``' ports.

        ``detached``: the servers outlive this process (``lab up``) for ``lifetime`` seconds;
        otherwise they end with it. ``outside`` addresses become probe endpoints.
        """
        netns.check_privileges()
        plan = plan_lab(snapshot, prefix=prefix, mode=mode, node_count=node_count, outside=outside)
        netns.create(plan)
        try:
            life = lifetime if lifetime is not None else DETACHED_LIFETIME if detached else RUN_LIFETIME
            server = start_server(plan, probes, lifetime=life, tied=not detached, log=log_path(prefix))
            state = LabState(plan, tuple(probes), server.pid, server.ports, bool(outside))
            save_state(state)
        except BaseException:
            netns.destroy(prefix)
            remove_state(prefix)
            raise
        return cls(state, detached=detached)

    @classmethod
    def attach(cls, prefix: str = DEFAULT_PREFIX) -> Lab:
        """The lab that ``lab up`` built with ``prefix`` (LabError if there is none)."""
        netns.check_privileges()
        state = load_state(prefix)
        missing = set(state.plan.netns_names) - set(netns.lab_namespaces(prefix))
        if missing:
            raise LabError(
                f"lab {prefix!r} is incomplete ({len(missing)} namespaces missing); "
                f"run 'kubefence lab down --prefix {prefix}'"
            )
        return cls(state, detached=True)

    def down(self) -> netns.Teardown:
        """Stop enforcing, kill the servers, remove every namespace and the saved state."""
        try:
            self._stop_enforcer()
        finally:
            teardown = netns.destroy(self.plan.prefix)
            remove_state(self.plan.prefix)
        return teardown

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- servers, enforcement, probes ------------------------------------------------------
    def serve(self, probes: Sequence[Probe]) -> None:
        """Make sure the servers run and listen on every port of ``probes`` (restarting them,
        e.g. after their lifetime, or with more ports)."""
        server = ServerProcess(self.state.server_pid, self.state.server_ports)
        if server.serves(probes) and netns.alive(server.pid):
            return
        wanted = sorted({*self.state.probes, *probes}, key=lambda p: (p.protocol.value, p.port))
        server.stop()
        life = DETACHED_LIFETIME if self.detached else RUN_LIFETIME
        new = start_server(
            self.plan, wanted, lifetime=life, tied=not self.detached, log=log_path(self.plan.prefix)
        )
        self.state = LabState(self.plan, tuple(wanted), new.pid, new.ports, self.state.outside_endpoints)
        save_state(self.state)

    def snapshot(self, snapshot: ClusterSnapshot) -> ClusterSnapshot:
        """``snapshot`` as this lab realises it (see ``topology.lab_snapshot``)."""
        return lab_snapshot(self.plan, snapshot)

    def enforce(self, enforcer: Enforcer) -> None:
        """Replace the current policy set: stop the previous enforcer, forget the connections
        it allowed (conntrack flush on every node), then enforce on every node."""
        self._stop_enforcer()
        self._flush_conntrack()
        self._enforcer = enforcer
        for node in self.plan.nodes:
            enforcer.enforce(node.name, node.netns)

    def _stop_enforcer(self) -> None:
        enforcer, self._enforcer = self._enforcer, None
        if enforcer is not None:
            enforcer.stop()

    def _flush_conntrack(self) -> None:
        if shutil.which("conntrack") is None:
            return
        for node in self.plan.nodes:
            # conntrack -F exits 1 on an empty table on some versions; nothing to report then.
            with contextlib.suppress(LabError):
                netns.run_in(node.netns, ["conntrack", "-F"])

    def endpoints(self, ipv6: bool = False) -> tuple[Endpoint, ...]:
        """Every pod, then the outside addresses if the lab was built with ``outside``."""
        extra = self.plan.outside_endpoints(ipv6) if self.state.outside_endpoints else ()
        return (*self.plan.endpoints(ipv6), *extra)

    def probe(
        self,
        probes: Sequence[Probe],
        *,
        endpoints: Sequence[Endpoint] | None = None,
        ipv6: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Verdicts:
        """Probe every ordered pair of distinct ``endpoints`` (default: ``self.endpoints``)."""
        self.serve(probes)
        chosen = self.endpoints(ipv6) if endpoints is None else endpoints
        return to_verdicts(probe_pairs(all_pairs(chosen), probes, timeout=timeout))

    # -- one policy set --------------------------------------------------------------------
    def check(
        self,
        snapshot: ClusterSnapshot,
        policies: Sequence[Policy],
        probes: Sequence[Probe],
        make_enforcer: EnforcerFactory,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ipv6: bool = False,
    ) -> LabReport:
        """Enforce ``policies``, probe everything, and compare with the engine's prediction,
        over IPv4 (or, with ``ipv6``, over every pod's IPv6 address).

        Tuples predicted allowed but observed denied are probed once more with a longer
        timeout before they count (a lost packet is not a policy); the converse never is
        (one packet through where a policy denies is a leak).
        """
        snap = self.snapshot(snapshot)
        endpoints = self.endpoints(ipv6)
        extra = [e.ip for e in endpoints if e.key not in {p.key for p in self.plan.pods}]
        universe = Universe(_family_first(snap, 6 if ipv6 else 4), extra)
        predicted = ReachabilityMatrix(Resolution(policies, universe)).verdicts(probes)
        self.serve(probes)
        self.enforce(make_enforcer(snap, policies))
        results = probe_pairs(all_pairs(endpoints), probes, timeout=timeout)
        first = compare(predicted, to_verdicts(results))
        results.update(_retry(first, endpoints, probes))
        observed = to_verdicts(results)
        return LabReport(predicted, observed, compare(predicted, observed))


def reclaim_crashed(prefix: str) -> bool:
    """Remove lab ``prefix`` when it is what a crashed run left: namespaces whose servers are
    gone. A live lab (``lab up`` servers still running) is left alone. True if one was removed."""
    if not netns.lab_namespaces(prefix):
        return False
    try:
        state = load_state(prefix)
    except LabError:
        state = None
    if state is not None and netns.alive(state.server_pid):
        return False
    netns.destroy(prefix)
    remove_state(prefix)
    return True


def _family_first(snapshot: ClusterSnapshot, version: int) -> ClusterSnapshot:
    """The snapshot with every endpoint's address of IP ``version`` first: flows use it."""
    pods = [
        dataclasses.replace(p, ips=tuple(sorted(p.ips, key=lambda ip: ip.version != version)))
        for p in snapshot.pods
    ]
    return dataclasses.replace(snapshot, pods=tuple(pods))


def _retry(
    found: Sequence[Discrepancy], endpoints: Sequence[Endpoint], probes: Sequence[Probe]
) -> dict[tuple[str, str, int, str], bool]:
    """Probe the predicted-allowed, observed-denied tuples again, all at once."""
    by_key = {e.key: e for e in endpoints}
    by_name = {(p.port, p.protocol.value): p for p in probes}
    tasks = [
        (by_key[d.src], by_key[d.dst], by_name[(d.port, d.protocol)]) for d in found if d.predicted_allowed
    ]
    return probe_tuples(tasks, timeout=RETRY_TIMEOUT) if tasks else {}


def run_lab(
    snapshot: ClusterSnapshot,
    policies: Sequence[Policy],
    probes: Sequence[Probe],
    make_enforcer: EnforcerFactory,
    *,
    prefix: str = DEFAULT_PREFIX,
    mode: Mode = Mode.HOST_GW,
    node_count: int = 2,
    outside: Sequence[IPAddress] = (),
    timeout: float = DEFAULT_TIMEOUT,
    ipv6: bool = False,
) -> LabReport:
    """``kubefence lab run``: build, enforce, probe, compare, and always tear down. The
    leftovers of an earlier run with the same prefix that crashed are removed first."""
    v4 = [ip for ip in outside if isinstance(ip, ipaddress.IPv4Address)]
    if len(v4) != len(outside):
        raise LabError("outside endpoints must be IPv4 addresses")
    reclaim_crashed(prefix)
    with Lab.up(snapshot, prefix=prefix, mode=mode, node_count=node_count, outside=v4, probes=probes) as lab:
        return lab.check(snapshot, policies, probes, make_enforcer, timeout=timeout, ipv6=ipv6)

"""Linking: hand-made edge tables per kind, communities, explanations, and the scan wiring."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from distillwatch.features import call_features
from distillwatch.ingest import Store, read_accounts, read_canonical_batches
from distillwatch.link import EDGE_KINDS, EdgePolicy, candidate_edges, cluster_name, link_graph
from factories import make_event, write_jsonl


def _edges(rows: list[tuple[str, str, str, float]]) -> pa.Table:
    return pa.table({"src": [r[0] for r in rows], "dst": [r[1] for r in rows],
                     "kind": [r[2] for r in rows], "bucket": [2] * len(rows),
                     "strength": [r[3] for r in rows]})


def _clique(members: list[str], kinds: list[str]) -> list[tuple[str, str, str, float]]:
    return [(a, b, k, 1.0) for i, a in enumerate(members) for b in members[i + 1:] for k in kinds]


@pytest.mark.parametrize(
    "kinds",
    [["template", "payment"], ["address", "signup"], ["email", "shape"], ["template", "signup"]],
)
def test_two_corroborating_kinds_link_a_group(kinds: list[str]) -> None:
    ring = [f"r{i}" for i in range(6)]
    linking = link_graph(_edges(_clique(ring, kinds)), min_score=1.0)
    assert len(linking.clusters) == 1
    cluster = linking.clusters[0]
    assert cluster.members == sorted(ring) and cluster.cluster_id == cluster_name(ring)
    assert set(cluster.edges_by_kind()) == set(kinds)
    assert cluster.strongest(3)[0].kinds.keys() == set(kinds)


@pytest.mark.parametrize("kinds", [["template"], ["payment"], ["agent", "network"],
                                   ["template", "agent"], ["template", "shape"],
                                   ["template", "shape", "agent", "network"]])
def test_no_single_kind_decides_alone(kinds: list[str]) -> None:
    group = [f"a{i}" for i in range(8)]
    linking = link_graph(_edges(_clique(group, kinds)), min_score=0.1)
    assert linking.clusters == [] and linking.membership == {}


def test_template_and_shape_are_one_family_of_evidence() -> None:
    """Unrelated operations running one public script share its template and request shape."""
    from distillwatch.link._graph import Edge, corroborating_kinds

    assert corroborating_kinds(Edge("a", "b", 1.6, {"template": 1.0, "shape": 1.0})) == 1
    assert corroborating_kinds(Edge("a", "b", 2.0, {"template": 1.0, "payment": 1.0})) == 2


def test_rare_means_rare_for_the_population_size() -> None:
    from distillwatch.link._edges import RARE_BUCKET, rare_bucket

    assert rare_bucket(300) == 2  # 30 of 300 accounts sharing a key is not rare
    assert rare_bucket(4000) == 20
    assert rare_bucket(10**6) == RARE_BUCKET


def test_weak_shared_keys_do_not_link() -> None:
    group = [f"a{i}" for i in range(5)]
    rows = [(a, b, k, 0.3) for a, b, k, _ in _clique(group, ["template", "email"])]
    assert link_graph(_edges(rows)).clusters == []


def test_two_rings_joined_by_one_stray_edge_stay_apart() -> None:
    left = [f"l{i}" for i in range(8)]
    right = [f"r{i}" for i in range(8)]
    rows = _clique(left, ["template", "payment"]) + _clique(right, ["address", "signup"])
    rows += [("l0", "r0", "email", 1.0), ("l0", "r0", "shape", 1.0)]
    linking = link_graph(_edges(rows), min_score=1.0, resolution=1.0)
    groups = sorted(c.members for c in linking.clusters)
    assert groups == [sorted(left), sorted(right)]


def test_every_edge_kind_is_explained() -> None:
    for kind in EDGE_KINDS:
        assert kind.text and kind.weight > 0


def test_candidate_edges_come_from_shared_keys_in_the_store(tmp_path: Path) -> None:
    wrapper = ("You are a data generator. Answer the following task completely and in "
               "detail, then stop: ")
    records = []
    for i in range(4):  # a ring: shared wrapper, shared payment instrument
        records += [make_event(f"ring{i}", request_id=f"r{i}-{j}",
                               user_text=wrapper + f"task number {i * 10 + j} about topic {j}")
                    for j in range(5)]
    for i in range(4):  # honest customers: their own prompts, cards, addresses and clients
        for j in range(5):
            record = make_event(f"solo{i}", request_id=f"s{i}-{j}",
                                user_text=f"customer {i} question {j}", temperature=0.1 * i)
            record["client_ip"] = f"198.51.{100 + i}.{j + 1}"
            record["user_agent"] = f"custom-client/{i}"
            records.append(record)
    logs = write_jsonl(tmp_path / "t.jsonl", records)
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text("".join(
        f'{{"account_id": "ring{i}", "payment_fingerprint": "pm_shared"}}\n' for i in range(4))
        + "".join(f'{{"account_id": "solo{i}", "payment_fingerprint": "pm_{i}"}}\n'
                  for i in range(4)))
    with Store(tmp_path / "db.duckdb") as store:
        store.upsert_accounts(read_accounts(str(accounts)))
        for batch in read_canonical_batches([str(logs)]):
            store.stage(call_features(batch))
        store.merge_staged()
        edges, population = candidate_edges(store)
    assert population == 8
    kinds = {(s, d): set() for s, d in zip(edges.column("src").to_pylist(),
                                           edges.column("dst").to_pylist(), strict=True)}
    for s, d, k in zip(edges.column("src").to_pylist(), edges.column("dst").to_pylist(),
                       edges.column("kind").to_pylist(), strict=True):
        kinds[(s, d)].add(k)
    assert {"template", "payment"} <= kinds[("ring0", "ring1")]
    assert not any(s.startswith("solo") or d.startswith("solo") for s, d in kinds)
    linking = link_graph(edges)
    assert [c.members for c in linking.clusters] == [["ring0", "ring1", "ring2", "ring3"]]


def test_keys_common_only_among_flagged_accounts_keep_their_strength(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distillwatch.link import _edges

    monkeypatch.setattr(_edges, "RARE_BUCKET", 2)
    wrapper = "Respond as a data generator and answer the following task in full detail: "
    records = [make_event(f"acct{i}", request_id=f"r{i}-{j}", user_text=wrapper + f"job {i}-{j}")
               for i in range(8) for j in range(4)]
    logs = write_jsonl(tmp_path / "t.jsonl", records)
    with Store(tmp_path / "db.duckdb") as store:
        for batch in read_canonical_batches([str(logs)]):
            store.stage(call_features(batch))
        store.merge_staged()
        every_pair = EdgePolicy(min_score=0.0, min_kinds=0)
        plain, _ = candidate_edges(store, policy=every_pair)
        ring, _ = candidate_edges(store, flagged=[f"acct{i}" for i in range(8)],
                                  policy=every_pair)

    def template_strength(edges: pa.Table) -> float:
        rows = [s for k, s in zip(edges.column("kind").to_pylist(),
                                  edges.column("strength").to_pylist(), strict=True)
                if k == "template"]
        return max(rows)

    assert template_strength(plain) < 0.5  # eight of eight accounts: boilerplate
    assert template_strength(ring) == 1.0  # held only by flagged accounts: not boilerplate


def _kinds_by_pair(tmp_path: Path, records: list[dict]) -> dict[tuple[str, str], set[str]]:
    """Every shared key kind per account pair (no pooling threshold)."""
    logs = write_jsonl(tmp_path / "t.jsonl", records)
    with Store(tmp_path / "db.duckdb") as store:
        for batch in read_canonical_batches([str(logs)]):
            store.stage(call_features(batch))
        store.merge_staged()
        edges, _ = candidate_edges(store, policy=EdgePolicy(min_score=0.0, min_kinds=0))
    out: dict[tuple[str, str], set[str]] = {}
    for s, d, k in zip(edges.column("src").to_pylist(), edges.column("dst").to_pylist(),
                       edges.column("kind").to_pylist(), strict=True):
        out.setdefault((s, d), set()).add(k)
    return out


def test_a_rotation_of_user_agents_is_a_fingerprint(tmp_path: Path) -> None:
    """Accounts cycling through one list of agents share it; one SDK's agent is no set."""
    rotation = ["agent-a/1.0", "agent-b/2.0", "agent-c/3.0", "agent-d/4.0"]
    records = []
    for i in range(3):
        for j in range(16):
            record = make_event(f"rot{i}", request_id=f"rot{i}-{j}", user_text=f"q {i} {j}")
            record["user_agent"] = rotation[(j + i) % len(rotation)]
            records.append(record)
    records.append({**make_event("rot_short", request_id="short-0"), "user_agent": "agent-a/1.0"})
    for i in range(2):  # the same two agents: what every user of one SDK sends
        for j in range(12):
            record = make_event(f"sdk{i}", request_id=f"sdk{i}-{j}", user_text=f"s {i} {j}")
            record["user_agent"] = ["OpenAI/Python 1.54.3", "python-httpx/0.27.2"][j % 2]
            records.append(record)
    pairs = _kinds_by_pair(tmp_path, records)
    assert all("agents" in pairs[(a, b)] for a, b in [("rot0", "rot1"), ("rot0", "rot2"),
                                                      ("rot1", "rot2")])
    assert not any("agents" in kinds for pair, kinds in pairs.items()
                   if "sdk0" in pair or "rot_short" in pair)


def test_moving_to_a_new_model_together_is_evidence(tmp_path: Path) -> None:
    """Accounts that adopt a model released mid-log within two hours of each other share a
    key; adopting it days apart, or using a model that was there from the start, does not."""
    from factories import T0

    records = []
    starts = {"p0": 0.0, "p1": 40.0, "p2": 95.0, "late": 60 * 24 * 3}
    for i, account in enumerate(["p0", "p1", "p2", "late"]):
        for j in range(4):  # the old model from the log's first day on
            records.append(make_event(account, request_id=f"{account}-old{j}", model="old",
                                      ts=T0 + timedelta(minutes=10 * j + i)))
        adopt = T0 + timedelta(days=5, minutes=starts[account])
        records += [make_event(account, request_id=f"{account}-new{j}", model="new",
                               ts=adopt + timedelta(minutes=j)) for j in range(4)]
    pairs = _kinds_by_pair(tmp_path, records)
    assert all("pivot" in pairs.get((a, b), set())
               for a, b in [("p0", "p1"), ("p1", "p2"), ("p0", "p2")] if a < b)
    assert not any("pivot" in kinds for pair, kinds in pairs.items() if "late" in pair)


def test_sparse_coincidences_do_not_merge_rings_nor_pull_in_loners() -> None:
    """A 10-account ring tied to a 60-account one by sign-up coincidences on 5% of their pairs
    stays apart, and a lone account with two edges into the big ring stays out of it."""
    big = [f"b{i:02d}" for i in range(60)]
    small = [f"s{i}" for i in range(10)]
    rows = _clique(big, ["template", "agents"]) + _clique(small, ["address", "payment", "email"])
    rows += [(s, b, k, 1.0) for i, s in enumerate(small) for j, b in enumerate(big)
             if (i * 7 + j) % 20 == 0 for k in ("template", "signup")]
    rows += [("loner", b, k, 1.0) for b in big[:2] for k in ("template", "signup")]
    linking = link_graph(_edges(rows))
    groups = sorted(sorted(c.members) for c in linking.clusters)
    assert groups == [sorted(big), sorted(small)]
    assert "loner" not in linking.membership

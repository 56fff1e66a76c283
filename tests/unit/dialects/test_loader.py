"""The manifest loader: documents with lines, List expansion, paths, and every input problem as a
located Diagnostic (never a traceback), including the limits against hostile input."""

from __future__ import annotations

import copy
import io
import json
import os
import textwrap
import time
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from kubefence.dialects.loader import (
    Document,
    Limits,
    LoadResult,
    LocatedList,
    LocatedMap,
    describe,
    load_paths,
    load_text,
)
from kubefence.ir.diagnostics import Severity

if TYPE_CHECKING:
    from pathlib import Path

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n"


def yaml_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def objects(result: LoadResult) -> list[tuple[str, str, int]]:
    return [(describe(d), d.file, d.line) for d in result.documents]


def problems(result: LoadResult) -> list[tuple[str, str, int | None]]:
    return [(d.severity.value, d.code, d.line) for d in result.diagnostics]


# -- documents and their lines ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(POD, [("Pod shop/web", 1)], id="one-object"),
        pytest.param(
            POD + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
            [("Pod shop/web", 1), ("Namespace shop", 7)],
            id="multi-doc",
        ),
        pytest.param(
            "---\n" + POD + "---\n# just a comment\n---\n" + POD + "---\n",
            [("Pod shop/web", 2), ("Pod shop/web", 10)],
            id="null-docs-skipped",
        ),
        pytest.param(
            "# header\n\n---\n# about the pod\napiVersion: v1\nkind: Pod\n",
            [("Pod <unnamed>", 5)],
            id="line-is-first-key",
        ),
        pytest.param(
            "\ufeff" + POD,
            [("Pod shop/web", 1)],
            id="utf8-bom",
        ),
        pytest.param(
            '{"apiVersion": "v1",\n "kind": "Pod",\n "metadata": {"name": "j"}}\n',
            [("Pod j", 1)],
            id="json",
        ),
        pytest.param(
            yaml_text("""
                apiVersion: v1
                kind: List
                items:
                - apiVersion: v1
                  kind: Pod
                  metadata: {name: a, namespace: x}
                - apiVersion: networking.k8s.io/v1
                  kind: NetworkPolicy
                  metadata:
                    name: allow-80
                    namespace: x
                metadata:
                  resourceVersion: ""
            """),
            [("Pod x/a", 4), ("NetworkPolicy x/allow-80", 7)],
            id="v1-list-expanded",
        ),
        pytest.param(
            "apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n",
            [("Pod p", 4)],
            id="typed-list-expanded",
        ),
        pytest.param("apiVersion: v1\nkind: List\nitems: []\n", [], id="empty-list-is-fine"),
        pytest.param(
            "apiVersion: example.com/v1\nkind: AllowList\nspec: {}\n",
            [("AllowList <unnamed>", 1)],
            id="kind-ending-in-list-without-items-is-an-object",
        ),
    ],
)
def test_documents_and_lines(text: str, expected: list[Any]) -> None:
    result = load_text(text, "in.yaml")
    assert problems(result) == []
    assert [(name, line) for name, _, line in objects(result)] == expected
    assert all(d.file == "in.yaml" for d in result.documents)


# -- problems ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [("error", "empty-file", None)], id="empty"),
        pytest.param("  \n\n\t\n", [("error", "empty-file", None)], id="whitespace"),
        pytest.param("# nothing here\n# at all\n", [("warning", "no-objects", None)], id="comments-only"),
        pytest.param("---\n---\n", [("warning", "no-objects", None)], id="null-docs-only"),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nx: a: b\n", [("error", "yaml-syntax", 3)], id="invalid-yaml"
        ),
        pytest.param("- a\n- b\n", [("error", "not-an-object", 1)], id="top-level-list"),
        pytest.param("just some text\n", [("error", "not-an-object", 1)], id="top-level-scalar"),
        pytest.param(
            "apiVersion: v1\nmetadata: {name: a}\n", [("error", "missing-field", 1)], id="missing-kind"
        ),
        pytest.param("kind: Pod\n", [("error", "missing-field", 1)], id="missing-api-version"),
        pytest.param("apiVersion: v1\nkind: 3\n", [("error", "missing-field", 2)], id="kind-not-string"),
        pytest.param("{}\n", [("error", "missing-field", 1)] * 2, id="empty-mapping"),
        pytest.param(
            POD + "  labels:\n    app: a\n    app: b\n",
            [("warning", "duplicate-key", 8)],
            id="duplicate-key",
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\n", [("error", "missing-field", 1)], id="list-without-items"
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems: 3\n", [("error", "invalid-field", 3)], id="items-not-list"
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod}\n- oops\n",
            [("error", "not-an-object", 5)],
            id="list-item-not-object",
        ),
        pytest.param(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  metadata: {name: a}\n",
            [("error", "missing-field", 4)],
            id="list-item-missing-kind",
        ),
        pytest.param("a: &x [1, *x]\n", [("error", "recursive-alias", 1)], id="recursive-alias"),
        pytest.param("a: &x {b: *x}\n", [("error", "recursive-alias", 1)], id="recursive-alias-map"),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nx: *nope\n", [("error", "yaml-syntax", 3)], id="undefined-alias"
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nx: !!int nope\n", [("error", "invalid-value", 3)], id="bad-tag"
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nx: !thing a\n", [("warning", "unknown-tag", 3)], id="unknown-tag"
        ),
        pytest.param("a: \x07\n", [("error", "yaml-syntax", 1)], id="control-character"),
        pytest.param(POD + "\x00\x01", [("error", "binary-file", 6)], id="nul-byte"),
        pytest.param(POD + "\udcff", [("error", "binary-file", 6)], id="lone-surrogate"),
    ],
)
def test_problems(text: str, expected: list[Any]) -> None:
    result = load_text(text, "in.yaml")
    assert problems(result) == expected
    assert all(d.file == "in.yaml" for d in result.diagnostics)
    assert result.has_errors == any(severity == "error" for severity, _, _ in expected)


def test_yaml_syntax_has_line_column_and_problem() -> None:
    (diag,) = load_text("apiVersion: v1\nkind: Pod\nx: a: b\n", "bad.yaml").diagnostics
    assert (diag.file, diag.line, diag.column) == ("bad.yaml", 3, 5)
    assert "mapping values are not allowed" in diag.message
    assert str(diag).startswith("bad.yaml:3:5: error: ")


def test_documents_before_a_syntax_error_are_kept() -> None:
    result = load_text(POD + "---\nx: [1\n", "in.yaml")
    assert objects(result) == [("Pod shop/web", "in.yaml", 1)]
    assert problems(result) == [("error", "yaml-syntax", 8)]  # libyaml notices at the end


def test_a_bad_document_does_not_hide_the_next() -> None:
    result = load_text("a: &x [*x]\n---\n" + POD, "in.yaml")
    assert problems(result) == [("error", "recursive-alias", 1)]
    assert objects(result) == [("Pod shop/web", "in.yaml", 3)]


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        pytest.param(
            "apiVersion: v1\nmetadata: {name: a}\n", "kind", "missing required field kind", id="kind"
        ),
        pytest.param(
            "apiVersion: 1\nkind: Pod\n",
            "apiVersion",
            "apiVersion must be a string, got an integer",
            id="int",
        ),
        pytest.param("apiVersion: ''\nkind: Pod\n", "apiVersion", "apiVersion must not be empty", id="empty"),
    ],
)
def test_missing_field_names_the_field(text: str, field: str, message: str) -> None:
    (diag,) = load_text(text, "in.yaml").diagnostics
    assert (diag.code, diag.field, diag.message) == ("missing-field", field, message)


def test_not_an_object_says_what_it_got() -> None:
    (diag,) = load_text("- 1\n", "in.yaml").diagnostics
    assert diag.message == "expected a Kubernetes object (a mapping with apiVersion and kind), got a list"


def test_list_item_problem_names_items_index() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod}\n- 7\n"
    (diag,) = load_text(text, "in.yaml").diagnostics
    assert (diag.field, diag.line) == ("items[1]", 5)
    assert diag.message.endswith("got an integer")


def test_duplicate_key_names_key_line_object_and_field() -> None:
    result = load_text(
        POD + "  labels:\n    app.kubernetes.io/name: a\n    app.kubernetes.io/name: b\n", "d.yaml"
    )
    (diag,) = result.diagnostics
    assert diag.severity is Severity.WARNING
    assert (diag.line, diag.object) == (8, "Pod shop/web")
    assert diag.field == 'metadata.labels["app.kubernetes.io/name"]'
    assert "'app.kubernetes.io/name'" in diag.message and "line 7" in diag.message
    assert result.documents[0].data["metadata"]["labels"] == {"app.kubernetes.io/name": "b"}
    assert result.documents[0].data["metadata"]["labels"].line_of("app.kubernetes.io/name") == 8


def test_duplicate_key_inside_list_item_is_placed_on_the_item() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  kind: Pod\n"
    (diag,) = load_text(text, "in.yaml").diagnostics
    assert (diag.code, diag.object, diag.field, diag.line) == ("duplicate-key", "Pod <unnamed>", "kind", 6)


# -- values -----------------------------------------------------------------------------------


def test_scalars_get_yaml_types_and_keys_are_strings() -> None:
    text = yaml_text("""
        apiVersion: v1
        kind: Pod
        80: http
        true: yes
        values: [80, '80', 1.5, yes, no, ~, null, 0x1F, 2024-01-02, "true", 1_000]
    """)
    data = load_text(text, "in.yaml").documents[0].data
    assert data["80"] == "http"
    assert data["true"] is True
    assert data["values"] == [80, "80", 1.5, True, False, None, None, 31, "2024-01-02", "true", 1000]


def test_merge_keys_and_shared_anchors() -> None:
    text = yaml_text("""
        base: &base {app: web, tier: front}
        apiVersion: v1
        kind: Pod
        metadata:
          labels:
            <<: *base
            tier: back
    """)
    data = load_text(text, "in.yaml").documents[0].data
    labels = data["metadata"]["labels"]
    assert labels == {"app": "web", "tier": "back"}
    assert labels.line_of("tier") == 7
    assert labels.line_of("app") == 1  # where the merged key was written


def test_line_of_nested_keys_and_list_items() -> None:
    text = yaml_text("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: allow-80
        spec:
          podSelector: {}
          ingress:
          - from:
            - podSelector:
                matchLabels: {app: web}
            ports:
            - port: 80
              protocol: TCP
            - {port: 443}
    """)
    data = load_text(text, "np.yaml").documents[0].data
    spec = data["spec"]
    assert isinstance(spec, LocatedMap)
    assert (data.line, data.line_of("spec"), data.line_of("absent")) == (1, 5, 1)
    assert (spec.line, spec.line_of("ingress")) == (6, 7)
    ingress = spec["ingress"]
    assert isinstance(ingress, LocatedList)
    assert (ingress.line, ingress.line_of(0), ingress.line_of(5)) == (8, 8, 8)
    rule = ingress[0]
    assert (rule.line, rule.line_of("ports")) == (8, 11)
    ports = rule["ports"]
    assert ports.item_lines == [12, 14]
    assert ports.line_of(-1) == 14
    assert ports[0].line_of("protocol") == 13
    assert rule["from"][0]["podSelector"].line_of("matchLabels") == 10


def test_located_values_compare_and_copy_like_plain_ones() -> None:
    data = LocatedMap({"a": LocatedList([1, 2], line=3, item_lines=[3, 4])}, line=2, key_lines={"a": 2})
    assert data == {"a": [1, 2]}
    clone = copy.deepcopy(data)
    assert clone == data and clone.key_lines == {"a": 2} and clone["a"].item_lines == [3, 4]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            {"kind": "NetworkPolicy", "metadata": {"name": "allow-80", "namespace": "x"}},
            "NetworkPolicy x/allow-80",
            id="namespaced",
        ),
        pytest.param({"kind": "Namespace", "metadata": {"name": "y"}}, "Namespace y", id="cluster-scoped"),
        pytest.param({"kind": "Pod", "metadata": {"namespace": "x"}}, "Pod x/<unnamed>", id="no-name"),
        pytest.param({"kind": "Pod"}, "Pod <unnamed>", id="no-metadata"),
        pytest.param({"metadata": {"name": "a"}}, "object a", id="no-kind"),
    ],
)
def test_describe(data: dict[str, Any], expected: str) -> None:
    assert describe(Document(LocatedMap(data, line=1), "f.yaml", 1)) == expected


# -- limits -----------------------------------------------------------------------------------


def billion_laughs(levels: int = 9) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_fails_fast() -> None:
    start = time.monotonic()
    result = load_text(billion_laughs(), "bomb.yaml")
    assert time.monotonic() - start < 2
    (diag,) = result.diagnostics
    assert diag.code == "too-large"
    assert "more than 20,000,000 YAML nodes (limit)" in diag.message
    assert result.documents == ()


def test_aliases_within_the_node_limit_are_fine() -> None:
    result = load_text(billion_laughs(levels=3), "ok.yaml", limits=Limits(max_nodes=10_000))
    assert problems(result) == []
    assert len(result.documents[0].data["a3"]) == 9


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x: " + "[" * 5000 + "]" * 5000, id="flow"),
        pytest.param("- " * 5000 + "x", id="block"),
    ],
)
def test_deep_nesting_is_refused(text: str) -> None:
    (diag,) = load_text(text, "deep.yaml", limits=Limits(max_depth=100)).diagnostics
    assert diag.code == "too-deep" and "100 levels" in diag.message


MANY_PODS = "".join(f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\n" for i in range(3000))


def test_too_slow() -> None:
    result = load_text(MANY_PODS, "many.yaml", limits=Limits(max_seconds=0.0, seconds_per_mib=0.0))
    assert [d.code for d in result.diagnostics] == ["too-slow"]
    assert "longer than 0.0 s (limit: 0 s plus 0 s per MiB read)" in result.diagnostics[0].message


def test_the_time_allowed_grows_with_the_input() -> None:
    """Large clusters take longer to parse: each MiB read adds ``seconds_per_mib`` to the
    time allowed, so that only the base limit bounds what small hostile input may cost."""
    roomy = load_text(MANY_PODS, "many.yaml", limits=Limits(max_seconds=0.0, seconds_per_mib=1e6))
    assert roomy.diagnostics == () and len(roomy.documents) == 3000


def test_progress_is_reported_through_each_file(tmp_path: Path) -> None:
    """``progress`` hears of each file at its start, every 10,000 YAML nodes, and at its end."""
    (tmp_path / "a.yaml").write_text(MANY_PODS)
    (tmp_path / "b.yaml").write_text(POD)
    heard: list[tuple[str, int, int]] = []
    load_paths([str(tmp_path)], progress=lambda *told: heard.append(told))
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    size = len(MANY_PODS)
    on_a = [(done, total) for file, done, total in heard if file == a]
    assert on_a[0] == (0, size) and on_a[-1] == (size, size) and len(on_a) > 3
    assert [done for done, _ in on_a] == sorted(done for done, _ in on_a)
    assert [(f, d) for f, d, _ in heard if f == b] == [(b, 0), (b, len(POD))]


def test_too_many_bytes_checked_before_reading(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POD)
    (tmp_path / "b.yaml").write_text(POD)
    result = load_paths([str(tmp_path)], limits=Limits(max_bytes=len(POD) + 10))
    assert len(result.documents) == 1
    (diag,) = result.diagnostics
    assert (diag.code, diag.file) == ("too-large", str(tmp_path / "b.yaml"))
    assert diag.message == f"input is larger than {len(POD) + 10:,} bytes in total (limit)"


def test_default_byte_limit_is_stated_in_gib() -> None:
    result = load_text("x" * 11, "in.yaml", limits=Limits(max_bytes=10))
    assert result.diagnostics[0].message == "input is larger than 10 bytes in total (limit)"
    assert Limits().max_bytes == 2 * 1024**3


# -- paths ------------------------------------------------------------------------------------


def write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def pod(name: str) -> str:
    return f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n"


def test_folder_recursion_order_and_extensions(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", pod("b"))
    write(tmp_path / "a" / "z.yml", pod("az"))
    write(
        tmp_path / "a" / "deep" / "x.json",
        json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}),
    )
    write(tmp_path / "c.txt", pod("ignored"))
    write(tmp_path / "README.md", "# not yaml")
    write(tmp_path / ".git" / "config.yaml", pod("hidden"))
    result = load_paths([str(tmp_path)])
    assert problems(result) == []
    assert [(describe(d), os.path.relpath(d.file, tmp_path)) for d in result.documents] == [
        ("Pod j", os.path.join("a", "deep", "x.json")),
        ("Pod az", os.path.join("a", "z.yml")),
        ("Pod b", "b.yaml"),
    ]


def test_explicit_file_with_other_extension_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "pod.txt", pod("t"))
    assert objects(load_paths([path])) == [("Pod t", path, 1)]


def test_file_name_is_kept_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "sub" / "p.yaml", pod("p"))
    monkeypatch.chdir(tmp_path)
    result = load_paths(["sub", "./sub/p.yaml"])
    assert [d.file for d in result.documents] == [os.path.join("sub", "p.yaml"), "./sub/p.yaml"]


def test_json_file_with_lines(tmp_path: Path) -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", "labels": {"a": "b"}}}
    path = write(tmp_path / "pod.json", json.dumps(body, indent=2))
    (doc,) = load_paths([path]).documents
    assert doc.data == body
    assert doc.data["metadata"].line_of("labels") == 6
    assert doc.data["metadata"]["labels"].line_of("a") == 7


@pytest.mark.parametrize(
    ("content", "code", "line"),
    [
        pytest.param(b"", "empty-file", None, id="empty"),
        pytest.param(b"# comments only\n", "no-objects", None, id="comments"),
        pytest.param(b"apiVersion: v1\n\x00\x01\x02", "binary-file", 2, id="nul"),
        pytest.param(b"apiVersion: v1\nkind: \xff\xfe\n", "binary-file", 2, id="not-utf8"),
        pytest.param(b"apiVersion: v1\nkind: [\n", "yaml-syntax", 3, id="syntax"),
    ],
)
def test_file_problems_name_the_file(tmp_path: Path, content: bytes, code: str, line: int | None) -> None:
    path = write(tmp_path / "bad.yaml", content)
    result = load_paths([path])
    (diag,) = result.diagnostics
    assert (diag.code, diag.file, diag.line) == (code, path, line)
    assert result.documents == ()


def test_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    (diag,) = load_paths([missing]).diagnostics
    assert (diag.severity, diag.code, diag.file, diag.message) == (
        Severity.ERROR,
        "not-found",
        missing,
        "no such file or directory",
    )


def test_folder_without_manifests_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "notes.txt", "hello")
    (diag,) = load_paths([str(tmp_path)]).diagnostics
    assert (diag.severity, diag.code, diag.file) == (Severity.WARNING, "empty-folder", str(tmp_path))


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_folder_loop_and_broken_link(tmp_path: Path) -> None:
    write(tmp_path / "a" / "p.yaml", pod("p"))
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    os.symlink(tmp_path / "gone.yaml", tmp_path / "a" / "q.yaml")
    result = load_paths([str(tmp_path)])
    assert [describe(d) for d in result.documents] == ["Pod p"]
    assert sorted((d.code, os.path.relpath(str(d.file), tmp_path)) for d in result.diagnostics) == [
        ("not-found", os.path.join("a", "q.yaml")),
        ("read-error", os.path.join("a", "loop")),
    ]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.yaml", pod("s"))
    os.chmod(path, 0)
    try:
        (diag,) = load_paths([path]).diagnostics
    finally:
        os.chmod(path, 0o600)
    assert (diag.code, diag.file) == ("read-error", path)
    assert "permission denied" in diag.message


def test_stdin(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", pod("file"))
    result = load_paths([path, "-"], stdin=io.StringIO(pod("a") + "---\n" + pod("b")))
    assert objects(result) == [("Pod file", path, 1), ("Pod a", "<stdin>", 1), ("Pod b", "<stdin>", 6)]


def test_stdin_problems_are_located() -> None:
    result = load_paths(["-"], stdin=io.StringIO("kind: [\n"))
    (diag,) = result.diagnostics
    assert (diag.code, diag.file, diag.line) == ("yaml-syntax", "<stdin>", 2)


def test_read_error_names_the_path(tmp_path: Path) -> None:
    path = write(tmp_path / "file.yaml", pod("p"))
    bad = os.path.join(path, "inside.yaml")
    (diag,) = load_paths([bad]).diagnostics
    assert (diag.code, diag.file, diag.message) == ("read-error", bad, "cannot read: not a directory")


def test_dash_reads_sys_stdin_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(pod("s")))
    assert objects(load_paths(["-"])) == [("Pod s", "<stdin>", 1)]


def test_binary_stdin() -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"kind: \xff\xfe\n"), encoding="utf-8")
    (diag,) = load_paths(["-"], stdin=stream).diagnostics
    assert (diag.code, diag.file) == ("binary-file", "<stdin>")


def test_pure_python_fallback_gives_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    text = yaml_text("""
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Pod
          metadata: {name: a, labels: {x: "1", x: "2"}}
          spec:
            containers:
            - name: c
              ports: [{containerPort: 80}, {containerPort: 0x50}]
        ---
        a: &a [*a]
    """)
    fast = load_text(text, "in.yaml")
    monkeypatch.setattr("kubefence.dialects.loader._Loader", yaml.SafeLoader)
    slow = load_text(text, "in.yaml")
    assert [(d.data, d.line) for d in slow.documents] == [(d.data, d.line) for d in fast.documents]
    assert slow.documents[0].data["spec"]["containers"][0]["ports"].item_lines == [10, 10]
    expected = [("warning", "duplicate-key", 6), ("error", "recursive-alias", 12)]
    assert problems(slow) == problems(fast) == expected

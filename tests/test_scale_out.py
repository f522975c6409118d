"""All of issue 15 at once (docs/scale-out.md, "All together"): two web nodes and two queue workers, each
process with a data home of its own, on one PostgreSQL catalogue, one S3 bucket (moto) and one Redis
queue; the incoming folder (GUJI_INCOMING) and the folder the workers build tiles in (GUJI_BUILD_DIR)
are the only folders they share, as a shared file system would give them."""

from __future__ import annotations

import os

import httpx
from browser_support import PASSWORD, ROOT, guji, serving, wait_until
from cluster_support import book_folder, digest, edit_title, found_in_search, scan_of_page, sign_in_over_http, workers
from process_support import free_port

from guji.repository import Catalogue, Home
from guji.repository.object_bucket import Bucket, S3Location
from guji.repository.settings import Settings

BOOK = "maoshi-zhushu"  # gets the scans
EDITED = "jingchuan-wenji"  # gets a new title
KEY = "4e3d2c1b0a9f8e7d6c5b4a3928170f6e5d4c3b2a19080f7e6d5c4b3a29180716\n"


def test_two_nodes_and_two_workers_on_postgresql_s3_and_redis(tmp_path, postgres_url, s3_storage, redis_url):
    """An admin on node A ingests a book through the staff ingest page; the two workers take its pages; node B
    serves the manifest and a tile from the bucket; node B takes A's staff session; a title edited on node A is
    found by node B's search (its own index, fed from the shared event log); fixity passes."""
    shared = tmp_path / "shared"  # what every host mounts at the same path
    (shared / "incoming").mkdir(parents=True)
    key = shared / "session.key"
    key.write_text(KEY)
    ports = free_port(), free_port()
    site = {**os.environ, "GUJI_DATABASE_URL": postgres_url, "GUJI_STORAGE": s3_storage, "GUJI_QUEUE": redis_url,
            "GUJI_SESSION_KEY_FILE": str(key), "GUJI_INCOMING": str(shared / "incoming"),
            "GUJI_BUILD_DIR": str(shared / "build"), "GUJI_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}",
            "GUJI_WORKER_HEARTBEAT": "2", "GUJI_EDITOR": "test"}

    def host(name: str) -> dict:  # a process's own data home (and a web node's own index)
        return {**site, "GUJI_HOME": str(tmp_path / name), "GUJI_INDEX_DIR": str(tmp_path / name / "index")}

    setup = host("setup")
    guji(setup, "init")
    guji(setup, "cards", "import", str(ROOT / "samples" / "cards.json"), "--reason", "示例数据导入")
    guji(setup, "users", "add", "馆长", "--role", "admin", "--password", PASSWORD)
    book_folder(shared / "incoming" / "毛诗")

    logs = [tmp_path / f"{name}.log" for name in ("worker-1", "worker-2", "node-a", "node-b")]
    with (workers([host("worker-1"), host("worker-2")], ["worker-1", "worker-2"], logs[:2]),
          serving(host("node-a"), ports[0], logs[2], workers=1) as node_a,
          serving(host("node-b"), ports[1], logs[3], workers=1) as node_b,
          httpx.Client(base_url=node_a, timeout=30) as on_a, httpx.Client(base_url=node_b, timeout=30) as on_b):
        sign_in_over_http(on_a, "馆长", PASSWORD)
        from web_helpers import csrf_of

        started = on_a.post("/staff/ingest", data={"folder": "毛诗", "card_id": BOOK,
                                                   "csrf_token": csrf_of(on_a.get("/staff/ingest").text)})
        assert started.status_code == 303, started.text[:500]
        job = started.headers["location"].rsplit("/", 1)[1]
        on_b.cookies = on_a.cookies  # the same staff member, through the other node

        def finished() -> dict | None:
            row = on_b.get(f"/staff/api/jobs/{job}").json()
            return row if row["status"] not in ("queued", "running") else None

        row = wait_until(finished, 60, "the ingest job did not end within 60 s")
        assert (row["status"], row["done"], row["total"]) == ("done", 3, 3), row["message"]
        assert "已存为 v2" in row["message"] and "done/毛诗" in row["message"]

        manifest = on_b.get(f"/iiif/{BOOK}/manifest")
        assert manifest.status_code == 200 and len(manifest.json()["items"]) == 3
        bucket = Bucket(S3Location.parse(s3_storage))
        keys = bucket.listing(f"derivatives/{BOOK}/0002/", None)[1]
        tile = next(key for key in sorted(keys) if key.endswith("/0/default.jpg") and not key.startswith("full/"))
        assert on_b.get(f"/iiif/image/{BOOK}/0002/info.json").json()["width"] > 0
        served = on_b.get(f"/iiif/image/{BOOK}/0002/{tile}")
        assert served.status_code == 200 and served.content == bucket.read(f"derivatives/{BOOK}/0002/{tile}")
        assert not (tmp_path / "node-b" / "derivatives").exists()  # node B built nothing, it fetched

        edit_title(on_a, EDITED, "涇川文集補遺新校本", "据原书卷端改题名")
        wait_until(lambda: found_in_search(on_b, "補遺新校本", EDITED), 60,
                   "node B's search did not find the edit made on node A within 60 s")
        assert on_b.get("/healthz").json()["index_behind"] == 0
    for node in ("node-a", "node-b"):  # each node built an index of its own (GUJI_INDEX_DIR) and fed it
        assert (tmp_path / node / "index" / "whoosh").is_dir(), node

    checker = host("checker")
    assert "Traceback" not in guji(checker, "fixity")  # exit code 0: every stored file read back and matching
    settings = Settings.from_environ(checker)
    catalogue = Catalogue.open(Home.resolve(None, settings), settings=settings)
    try:
        stored = catalogue.store.digests(BOOK)
        assert catalogue.store.head(BOOK) == 2  # the card, then one version with the scans
    finally:
        catalogue.close()
    assert {path: value for path, value in stored.items() if path.startswith("masters/")} == {
        f"masters/{number:04d}.png": digest(scan_of_page(number)) for number in (1, 2, 3)}
    for name in ("worker-1", "worker-2", "node-a", "node-b"):  # no host built in a folder the others cannot see
        assert not (tmp_path / name / "derivatives").exists(), name
    assert list((shared / "build").iterdir()) == [shared / "build" / BOOK]
    assert not (shared / "build" / BOOK / ".pending").exists()  # the work folder is left clean
    for log in logs:
        assert "Traceback" not in log.read_text(errors="replace"), log.name

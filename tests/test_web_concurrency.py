"""A slow request must not hold up the other requests of its process: staff actions (PDFs, password
hashes, saves) and OAI-PMH POSTs run in the thread pool, never in the event loop that also answers
tiles, searches and pages; large images are streamed without the thread pool."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from web_helpers import csrf_of, form_values, load_samples, staff_client

from guji.repository.outputs.oai import OAIRepository
from guji.web.staff import outputs_pages
from guji.web.staff.accounts import Accounts


@pytest.fixture
def admin(catalogue, sample_cards):
    load_samples(catalogue, sample_cards)
    client = staff_client(catalogue, "馆长", "admin")
    with client:  # one event loop for every request, as in a server process
        yield client


def _guide_cards(client):
    action, values = form_values(client.get("/staff/outputs").text, "#guide-cards form")
    return action, values


def _add_user(client):
    return "/staff/users", {"csrf_token": csrf_of(client.get("/staff/users").text), "name": "李四",
                            "role": "cataloguer", "password": "another long password"}


def _oai(client):
    return "/oai", {"verb": "ListRecords", "metadataPrefix": "oai_dc"}


@pytest.mark.parametrize("form, owner, name", [
    (_guide_cards, outputs_pages, "print_guide_cards"),
    (_add_user, Accounts, "add"),
    (_oai, OAIRepository, "respond"),
], ids=["guide-cards", "add-user", "oai-post"])
def test_a_slow_post_does_not_hold_up_other_requests(admin, monkeypatch, form, owner, name):
    action, values = form(admin)
    entered, answered = threading.Event(), threading.Event()
    original = getattr(owner, name)

    def slow(*args, **kwargs):
        entered.set()
        if not answered.wait(20):  # the event loop was blocked by this very call
            raise AssertionError("no other request was answered while this one worked")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, slow)
    with ThreadPoolExecutor(1) as pool:
        posted = pool.submit(admin.post, action, data=values, follow_redirects=False)
        assert entered.wait(20)
        assert admin.get("/healthz").status_code == 200
        answered.set()
        assert posted.result().status_code in (200, 303)


def test_a_full_size_image_is_sent_whole_and_without_the_thread_pool(catalogue, monkeypatch):
    """A 5000×7000 page's full/max is several MB: it is read in the event loop (1 MB blocks, from the page
    cache), not 64 KB per trip through a thread pool that searches and record pages keep busy."""
    import os

    import anyio.to_thread
    from fastapi.testclient import TestClient

    from guji.web import create_app

    big = os.urandom(3 * 1024 * 1024 + 123)
    path = catalogue.home.derivatives / "bigbook" / "0001" / "full" / "max" / "0" / "default.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(big)
    url = "/iiif/image/bigbook/0001/full/max/0/default.jpg"
    app = create_app(catalogue.home)
    with TestClient(app) as client:
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == big
        assert whole.headers["content-type"] == "image/jpeg" and whole.headers["content-length"] == str(len(big))
        head = client.head(url)
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(big))
        part = client.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == big[100:200]
        assert client.get(url, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304

        # every thread of the pool busy (one thread, held by a slow request)
        client.portal.call(lambda: setattr(anyio.to_thread.current_default_thread_limiter(), "total_tokens", 1))
        entered, answered = threading.Event(), threading.Event()
        count = app.state.catalogue.count

        def slow_count():
            entered.set()
            if not answered.wait(20):
                raise AssertionError("the full-size image waited for the thread pool")
            return count()

        monkeypatch.setattr(app.state.catalogue, "count", slow_count)
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(client.get, "/healthz")
            assert entered.wait(20)
            assert client.get(url).content == big
            answered.set()
            assert slow.result().status_code == 200

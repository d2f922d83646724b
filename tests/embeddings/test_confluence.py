"""Page sources: the REST client (v2 and v1) against a real loopback server, and the folder."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from embeddings.chunking import ConfluencePage
from embeddings.confluence import (
    ApiTokenAuth,
    ConfluenceAuthError,
    ConfluenceClient,
    ConfluenceError,
    ConfluenceNotFound,
    FolderSource,
    OAuthTokenAuth,
    PageSource,
)

from .confluence_server import FIXTURES, FakeConfluence, FixturePage, load_fixture_pages
from .conftest import Sleeps

FIXTURE_PAGES = {page.page_id: page for page in load_fixture_pages()}


def client(server: FakeConfluence, sleeps: Sleeps, **options: object) -> ConfluenceClient:
    options = {"page_size": 1, "base_delay": 0.01, "sleep": sleeps, **options}
    return ConfluenceClient(server.url, **options)  # type: ignore[arg-type]


async def collect(source: PageSource, space_key: str = "QM") -> list[ConfluencePage]:
    return [page async for page in source.iter_pages(space_key)]


def assert_is_fixture(page: ConfluencePage, fixture: FixturePage) -> None:
    assert page.title == fixture.title
    assert page.version == fixture.version
    assert page.space_key == "QM"
    assert page.body_storage == fixture.storage
    assert page.url.endswith("/wiki" + fixture.webui)


# --- one conformance suite over every PageSource ---------------------------------------------


@pytest.fixture(params=["rest-v2", "rest-v1", "folder"])
async def source(
    request: pytest.FixtureRequest, confluence: FakeConfluence, sleeps: Sleeps
) -> AsyncIterator[PageSource]:
    if request.param == "folder":
        yield FolderSource(FIXTURES)
        return
    async with client(confluence, sleeps, api=request.param.removeprefix("rest-")) as rest:
        yield rest


async def test_every_page_comes_back_once_with_its_metadata(source: PageSource) -> None:
    pages = await collect(source)

    assert sorted(page.page_id for page in pages) == sorted(FIXTURE_PAGES)
    for page in pages:
        assert_is_fixture(page, FIXTURE_PAGES[page.page_id])


async def test_get_page_finds_a_page_and_answers_none_for_a_missing_one(
    source: PageSource,
) -> None:
    page = await source.get_page("544112828")

    assert page is not None
    assert_is_fixture(page, FIXTURE_PAGES["544112828"])
    assert await source.get_page("999999999") is None


async def test_an_unknown_space_is_a_clear_error(source: PageSource) -> None:
    with pytest.raises(ConfluenceNotFound, match="NOPE"):
        await collect(source, "NOPE")


# --- REST specifics ----------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["v2", "v1"])
@pytest.mark.parametrize("page_size", [1, 2, 25])
async def test_pagination_follows_next_links_to_the_end(
    confluence: FakeConfluence, sleeps: Sleeps, api: str, page_size: int
) -> None:
    async with client(confluence, sleeps, api=api, page_size=page_size) as rest:
        pages = await collect(rest)

    assert sorted(page.page_id for page in pages) == sorted(FIXTURE_PAGES)
    listing = "/pages" if api == "v2" else "/rest/api/content"
    expected_requests = -(-len(FIXTURE_PAGES) // page_size)  # ceil
    assert len(confluence.list_requests(listing)) == expected_requests
    # Page URLs are built from the site the API names (``_links.base``), not guessed.
    assert all(page.url.startswith(confluence.site + "/spaces/QM/") for page in pages)


async def test_v2_follows_the_opaque_cursor(confluence: FakeConfluence, sleeps: Sleeps) -> None:
    async with client(confluence, sleeps, page_size=2) as rest:
        await collect(rest)

    first, second = confluence.list_requests("/pages")
    assert "cursor" not in first.query and first.query["body-format"] == "storage"
    assert second.query["cursor"] and second.query["limit"] == "2"


async def test_basic_auth_is_sent_on_every_request(
    confluence: FakeConfluence, sleeps: Sleeps
) -> None:
    token = base64.b64encode(b"ada@example.com:s3cret").decode()
    confluence.expected_auth = f"Basic {token}"
    auth = ApiTokenAuth(email="ada@example.com", token="s3cret")  # type: ignore[arg-type]

    async with client(confluence, sleeps, auth=auth) as rest:
        assert len(await collect(rest)) == len(FIXTURE_PAGES)

    assert {r.headers["authorization"] for r in confluence.requests} == {f"Basic {token}"}
    assert "s3cret" not in repr(auth)


async def test_bearer_token_is_sent_on_every_request(
    confluence: FakeConfluence, sleeps: Sleeps
) -> None:
    confluence.expected_auth = "Bearer forge-oauth-system-token"
    auth = OAuthTokenAuth(token="forge-oauth-system-token")  # type: ignore[arg-type]

    async with client(confluence, sleeps, auth=auth, api="v1") as rest:
        assert len(await collect(rest)) == len(FIXTURE_PAGES)

    assert all(r.headers["authorization"] == confluence.expected_auth for r in confluence.requests)


async def test_no_auth_sends_no_authorization_header(
    confluence: FakeConfluence, sleeps: Sleeps
) -> None:
    async with client(confluence, sleeps) as rest:
        await collect(rest)

    assert all("authorization" not in r.headers for r in confluence.requests)


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_rejected_credentials_raise_an_auth_error(
    confluence: FakeConfluence, sleeps: Sleeps, api: str
) -> None:
    confluence.expected_auth = "Bearer right"
    auth = OAuthTokenAuth(token="wrong")  # type: ignore[arg-type]

    async with client(confluence, sleeps, auth=auth, api=api) as rest:
        with pytest.raises(ConfluenceAuthError, match="401") as raised:
            await collect(rest)

    assert raised.value.status == 401
    assert "wrong" not in str(raised.value)
    assert len(confluence.requests) == 1  # a refusal is not retried


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_429_is_retried_after_the_retry_after_delay(
    confluence: FakeConfluence, sleeps: Sleeps, api: str
) -> None:
    confluence.throttle_every = 3
    confluence.retry_after = "7"

    async with client(confluence, sleeps, api=api) as rest:
        pages = await collect(rest)

    assert sorted(page.page_id for page in pages) == sorted(FIXTURE_PAGES)
    throttled = len(confluence.requests) // 3
    assert throttled >= 1
    assert sleeps == [7.0] * throttled


async def test_retry_after_is_capped(confluence: FakeConfluence, sleeps: Sleeps) -> None:
    confluence.throttle_every = 2
    confluence.retry_after = "3600"

    async with client(confluence, sleeps, max_delay=5.0) as rest:
        await collect(rest)

    assert sleeps and set(sleeps) == {5.0}


@pytest.mark.parametrize("api", ["v2", "v1"])
async def test_a_503_is_retried_with_backoff(
    confluence: FakeConfluence, sleeps: Sleeps, api: str
) -> None:
    confluence.fail_next = [503]

    async with client(confluence, sleeps, api=api) as rest:
        pages = await collect(rest)

    assert len(pages) == len(FIXTURE_PAGES)
    assert len(sleeps) == 1 and 0.005 <= sleeps[0] <= 0.01


async def test_backoff_grows_and_gives_up_after_max_attempts(
    confluence: FakeConfluence, sleeps: Sleeps
) -> None:
    confluence.fail_next = [502, 503, 504, 500, 503]

    async with client(confluence, sleeps, max_attempts=4, base_delay=1.0, max_delay=3.0) as rest:
        with pytest.raises(ConfluenceError, match=r"500 Internal Server Error.*after 4 attempts"):
            await collect(rest)

    assert len(confluence.requests) == 4
    assert len(sleeps) == 3  # three waits, then give up
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0 and 1.5 <= sleeps[2] <= 3.0


async def test_an_unreachable_host_is_retried_then_reported(sleeps: Sleeps) -> None:
    async with ConfluenceClient(
        "http://127.0.0.1:9", max_attempts=3, base_delay=0.01, sleep=sleeps
    ) as rest:
        with pytest.raises(ConfluenceError, match="failed after 3 attempts") as raised:
            await rest.get_page("1")

    assert isinstance(raised.value.__cause__, httpx.TransportError)
    assert len(sleeps) == 2


async def test_a_next_link_to_another_host_is_not_followed(sleeps: Sleeps) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path.endswith("/spaces"):
            return httpx.Response(200, json={"results": [{"id": "7", "key": "QM"}]})
        return httpx.Response(
            200, json={"results": [], "_links": {"next": "https://evil.example/wiki/api/v2/x"}}
        )

    transport = httpx.MockTransport(answer)
    async with ConfluenceClient(
        "https://tenant.atlassian.net", transport=transport, sleep=sleeps
    ) as rest:
        with pytest.raises(ConfluenceError, match="refusing to follow"):
            await collect(rest)

    assert not any("evil" in url for url in seen)


def test_invalid_arguments_are_rejected_with_the_rule() -> None:
    with pytest.raises(ValueError, match="page_size 0"):
        ConfluenceClient("https://x.atlassian.net", page_size=0)
    with pytest.raises(ValueError, match="'v3'"):
        ConfluenceClient("https://x.atlassian.net", api="v3")  # type: ignore[arg-type]


async def test_ids_and_keys_are_validated_before_any_request(
    confluence: FakeConfluence, sleeps: Sleeps
) -> None:
    async with client(confluence, sleeps) as rest:
        with pytest.raises(ValueError, match="page id '../admin'"):
            await rest.get_page("../admin")
        with pytest.raises(ValueError, match="space key 'Q M'"):
            await collect(rest, "Q M")

    assert confluence.requests == []


# --- the folder source ---------------------------------------------------------------------


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def export(tmp_path: Path) -> Callable[..., FolderSource]:
    def make(**options: str) -> FolderSource:
        return FolderSource(tmp_path, **options)

    return make


async def test_folder_reads_loose_v1_and_v2_objects(
    tmp_path: Path, export: Callable[..., FolderSource]
) -> None:
    write_json(
        tmp_path / "10.json",
        {
            "id": "10",
            "title": "Runbook",
            "space": {"key": "OPS"},
            "version": {"number": 4},
            "body": {"storage": {"value": "<p>restart</p>"}},
            "_links": {"webui": "/spaces/OPS/pages/10/Runbook"},
        },
    )
    write_json(
        tmp_path / "11.json",
        {
            "id": "11",
            "title": "On call",
            "spaceId": "5",
            "version": {"number": 2},
            "body": {"storage": {"value": "<p>page me</p>"}},
            "_links": {"webui": "/spaces/OPS/pages/11/On+call"},
        },
    )

    folder = export(site_url="https://t.atlassian.net/wiki")
    pages = await collect(folder, "OPS")

    assert [(p.page_id, p.version, p.body_storage) for p in pages] == [
        ("10", 4, "<p>restart</p>"),
        ("11", 2, "<p>page me</p>"),
    ]
    assert pages[0].url == "https://t.atlassian.net/wiki/spaces/OPS/pages/10/Runbook"
    assert await folder.get_page("11") == pages[1]


async def test_folder_names_the_file_that_lacks_a_version(
    tmp_path: Path, export: Callable[..., FolderSource]
) -> None:
    (tmp_path / "12").mkdir()
    write_json(tmp_path / "12" / "page.v1.json", {"id": "12", "title": "t", "space": {"key": "A"}})
    (tmp_path / "12" / "page.xhtml").write_text("<p>x</p>", encoding="utf-8")

    with pytest.raises(ConfluenceError, match=r"12.*no version\.number"):
        await collect(export(), "A")


async def test_folder_rejects_broken_json_naming_it(
    tmp_path: Path, export: Callable[..., FolderSource]
) -> None:
    (tmp_path / "13.json").write_text("{not json", encoding="utf-8")

    with pytest.raises(ConfluenceError, match=r"13\.json is not valid JSON"):
        await collect(export(), "A")


async def test_a_missing_export_folder_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfluenceNotFound, match="not found"):
        await collect(FolderSource(tmp_path / "absent"))

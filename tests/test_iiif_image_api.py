"""Image API 3: request parsing by the spec's rules, static tiles, pyvips rendering, safety of paths."""

from __future__ import annotations

import pytest
import pyvips
from fastapi.testclient import TestClient
from iiif_fixtures import BOOK, PUBLIC, TEST_BOOK, TEST_IMAGE

from guji.iiif.image_api import ImageRequestError, parse_request
from guji.web import create_app

W, H = 1000, 800  # a page for the parser tests


def parse(region="full", size="max", rotation="0", quality="default.jpg", width=W, height=H):
    return parse_request(region, size, rotation, quality, width, height)


@pytest.mark.parametrize(("region", "expected"), [
    ("full", (0, 0, 1000, 800)),
    ("square", (100, 0, 800, 800)),
    ("10,20,300,400", (10, 20, 300, 400)),
    ("900,700,500,500", (900, 700, 100, 100)),  # cut at the edge
    ("pct:10,25,50,50", (100, 200, 500, 400)),
    ("pct:0.5,0,10.5,100", (5, 0, 105, 800)),
])
def test_regions(region, expected):
    request = parse(region=region)
    assert (request.x, request.y, request.region_width, request.region_height) == expected


@pytest.mark.parametrize("region", ["1000,0,10,10", "0,800,10,10", "0,0,0,10", "pct:0,0,0,5", "10,10,10", "a,b,c,d",
                                    "pct:-1,0,5,5", "FULL"])
def test_bad_regions(region):
    with pytest.raises(ImageRequestError) as error:
        parse(region=region)
    assert error.value.parameter == "region"


@pytest.mark.parametrize(("region", "size", "expected"), [
    ("full", "max", (1000, 800)),
    ("full", "500,", (500, 400)),
    ("full", ",200", (250, 200)),
    ("full", "pct:25", (250, 200)),
    ("full", "300,300", (300, 300)),  # w,h may distort
    ("full", "!300,300", (300, 240)),
    ("0,0,100,100", "^200,", (200, 200)),
    ("0,0,100,100", "^,150", (150, 150)),
    ("0,0,100,100", "^pct:300", (300, 300)),
    ("0,0,100,50", "^!400,400", (400, 200)),
    ("0,0,400,200", "^max", (1000, 500)),  # up to maxWidth (the page's width)
    ("0,0,200,400", "^max", (400, 800)),  # up to maxHeight (the page's height)
    ("full", "^max", (1000, 800)),  # the page itself: the limits are its own size
])
def test_sizes(region, size, expected):
    request = parse(region=region, size=size)
    assert (request.width, request.height) == expected


@pytest.mark.parametrize("size", ["1001,", ",801", "pct:101", "!2000,2000", "1000,801", "0,", "pct:0", "full",
                                  "^5000,5000", "^pct:200", "max,", "^!x,1", "^1,99999", "^99999,1", "^1001,",
                                  "^pct:" + "9" * 400, "9" * 400 + ","])
def test_bad_sizes(size):
    """Without ^ nothing may be larger than the region; with ^ not beyond maxWidth, maxHeight and maxArea
    (the page's own size); `full` is gone in 3.0."""
    with pytest.raises(ImageRequestError) as error:
        parse(size=size)
    assert error.value.parameter == "size"


def test_rotation_quality_format():
    request = parse(rotation="!90", quality="gray.png")
    assert (request.mirror, request.rotation, request.quality, request.format) == (True, 90, "gray", "png")
    assert parse(rotation="360").rotation == 0
    for rotation in ("45", "-90", "450", "x"):
        with pytest.raises(ImageRequestError, match="rotation"):
            parse(rotation=rotation)
    for quality, parameter in (("sepia.jpg", "quality"), ("default.gif", "format"), ("default", "quality.format")):
        with pytest.raises(ImageRequestError) as error:
            parse(quality=quality)
        assert error.value.parameter == parameter


def test_canonical_form():
    assert parse(region="0,0,512,512", size="256,").canonical() == "0,0,512,512/256,256/0/default.jpg"
    assert parse(size="1000,").canonical() == "full/max/0/default.jpg"
    assert parse(region="pct:0,0,50,50", size="^pct:200", rotation="!180",
                 quality="color.png").canonical() == "0,0,500,400/^1000,800/!180/color.png"


# ---- over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def client(iiif_home, iiif_public_url):
    return TestClient(create_app(iiif_home))


def test_info_json(client):
    response = client.get(f"/iiif/image/{BOOK}/0001/info.json", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'
    assert response.headers["access-control-allow-origin"] == "*"
    info = response.json()
    scan = pyvips.Image.new_from_file(str(TEST_IMAGE.parent.parent / "scans" / "1.png"))
    assert info["id"] == f"{PUBLIC}/iiif/image/{BOOK}/0001"
    assert (info["type"], info["protocol"], info["profile"]) == ("ImageService3", "http://iiif.io/api/image", "level2")
    assert (info["width"], info["height"]) == (scan.width, scan.height)
    assert info["tiles"] == [{"scaleFactors": [1, 2, 4], "width": 512}]
    assert info["sizes"][-1] == {"width": scan.width, "height": scan.height}
    assert info["maxArea"] == scan.width * scan.height
    assert set(info["extraQualities"]) == {"color", "gray", "bitonal"}
    assert client.get(f"/iiif/image/{BOOK}/0001/info.json").headers["content-type"].startswith("application/ld+json")
    redirect = client.get(f"/iiif/image/{BOOK}/0001", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == info["id"] + "/info.json"


def test_static_tile_is_the_prebuilt_file(client, iiif_home):
    tile = "0,0,512,512/512,512/0/default.jpg"
    response = client.get(f"/iiif/image/{BOOK}/0001/{tile}")
    assert response.status_code == 200
    assert response.content == (iiif_home.derivatives / BOOK / "0001" / tile).read_bytes()
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age=604800" in response.headers["cache-control"]
    assert 'rel="profile"' in response.headers["link"]
    cached = client.get(f"/iiif/image/{BOOK}/0001/{tile}", headers={"If-None-Match": response.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""
    # An equivalent, non-canonical request is answered from the same file.
    same = client.get(f"/iiif/image/{BOOK}/0001/0,0,512,512/512,/0/default.jpg")
    assert same.content == response.content
    assert same.headers["link"].startswith(f"<{PUBLIC}/iiif/image/{BOOK}/0001/0,0,512,512/max/0/default.jpg>")


def test_dynamic_region_has_the_pixels_of_the_master(client):
    """The validator image has 100 px squares of known colours: a region must show the master's."""
    master = pyvips.Image.new_from_file(str(TEST_IMAGE)).extract_band(0, n=3)
    assert client.get(f"/iiif/image/{TEST_BOOK}/0001/213,407,150,150/300,/0/default.png").status_code == 400
    response = client.get(f"/iiif/image/{TEST_BOOK}/0001/213,407,150,150/^300,/0/default.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = pyvips.Image.new_from_buffer(response.content, "")
    assert (image.width, image.height) == (300, 300)
    # square (2,4) is at 200–300 × 400–500 of the master; in the output it starts at (0,0)
    expected = [master.crop(220, 420, 60, 60).extract_band(b).avg() for b in range(3)]
    got = [image.crop(10, 10, 100, 100).extract_band(b).avg() for b in range(3)]
    assert all(abs(e - g) < 6 for e, g in zip(expected, got, strict=True)), (expected, got)


def test_rotation_mirroring_and_qualities(client):
    base = f"/iiif/image/{TEST_BOOK}/0001"
    master = pyvips.Image.new_from_file(str(TEST_IMAGE)).extract_band(0, n=3)
    top_left = [master.crop(10, 10, 80, 80).extract_band(b).avg() for b in range(3)]
    # rotated 90° clockwise, the master's top-left square lands at the top right
    rotated = pyvips.Image.new_from_buffer(client.get(f"{base}/0,0,400,200/max/90/default.png").content, "")
    assert (rotated.width, rotated.height) == (200, 400)
    assert all(abs(a - b) < 6 for a, b in zip(top_left, [rotated.crop(110, 10, 80, 80).extract_band(i).avg()
                                                          for i in range(3)], strict=True))
    mirrored = pyvips.Image.new_from_buffer(client.get(f"{base}/0,0,400,200/max/!0/default.png").content, "")
    assert all(abs(a - b) < 6 for a, b in zip(top_left, [mirrored.crop(310, 10, 80, 80).extract_band(i).avg()
                                                          for i in range(3)], strict=True))
    gray = pyvips.Image.new_from_buffer(client.get(f"{base}/full/200,/0/gray.jpg").content, "")
    assert gray.bands == 1
    bitonal = pyvips.Image.new_from_buffer(client.get(f"{base}/full/200,/0/bitonal.png").content, "")
    assert bitonal.bands == 1 and set(bytes(bitonal.write_to_memory())) == {0, 255}
    colour = client.get(f"/iiif/image/{BOOK}/0004/full/150,/0/color.jpg")  # a grayscale scan, asked in colour
    assert pyvips.Image.new_from_buffer(colour.content, "").bands == 3
    webp = client.get(f"{base}/square/100,/0/default.webp")
    assert webp.headers["content-type"] == "image/webp" and webp.content[8:12] == b"WEBP"


def test_dynamic_request_builds_the_pyramid_once(client, iiif_home):
    pyramid = iiif_home.derivatives / BOOK / "0002" / "pyramid.tif"
    pyramid.unlink(missing_ok=True)
    response = client.get(f"/iiif/image/{BOOK}/0002/100,100,333,333/111,/0/default.jpg")
    assert response.status_code == 200 and pyvips.Image.new_from_buffer(response.content, "").width == 111
    assert pyramid.is_file()
    built = pyramid.stat().st_mtime_ns
    assert client.get(f"/iiif/image/{BOOK}/0002/100,100,334,334/111,/0/default.jpg").status_code == 200
    assert pyramid.stat().st_mtime_ns == built
    etag = response.headers["etag"]
    again = client.get(f"/iiif/image/{BOOK}/0002/100,100,333,333/111,/0/default.jpg", headers={"If-None-Match": etag})
    assert again.status_code == 304


@pytest.mark.parametrize(("path", "status"), [
    (f"{BOOK}/0001/full/max/0/default.gif", 400),
    (f"{BOOK}/0001/full/full/0/default.jpg", 400),
    (f"{BOOK}/0001/full/max/45/default.jpg", 400),
    (f"{BOOK}/0001/nonsense/max/0/default.jpg", 400),
    (f"{BOOK}/0001/5000,0,10,10/max/0/default.jpg", 400),
    (f"{BOOK}/9999/full/max/0/default.jpg", 404),
    (f"{BOOK}/0001/a/b/full/max/0/default.jpg", 404),
    ("no-such-book/0001/info.json", 404),
    (f"{BOOK}/0001/source.json", 404),
    (f"{BOOK}/.pending/info.json", 404),
    (f"{BOOK}/0001/../0002/max/0/default.jpg", 404),  # the client resolves "..": 5 segments
    (f"{BOOK}/0001/full/../../../etc/passwd", 404),
    (f"..%2F{BOOK}/0001/info.json", 404),
    (f"{BOOK}/0001/%2e%2e/max/0/default.jpg", 400),
])
def test_bad_requests_are_refused_with_a_message(client, path, status):
    response = client.get(f"/iiif/image/{path}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]
    assert response.headers["access-control-allow-origin"] == "*"


def test_folder_names_are_checked_before_the_file_system():
    from pathlib import Path

    from guji.iiif.page_images import page_folder

    root = Path("/srv/derivatives")
    assert page_folder(root, BOOK, "0001") == root / BOOK / "0001"
    for book, page in ((BOOK, ".."), ("..", "0001"), (BOOK, ".pending"), (".hidden", "0001"), (BOOK, "1"),
                       (BOOK, "0001/.."), ("a/b", "0001"), (BOOK, "")):
        assert page_folder(root, book, page) is None


def test_hidden_folders_are_never_served(client, iiif_home):
    hidden = iiif_home.derivatives / BOOK / ".pending" / "0001"
    (hidden / "full" / "max" / "0").mkdir(parents=True, exist_ok=True)
    (hidden / "full" / "max" / "0" / "default.jpg").write_bytes(b"not for you")
    (hidden / "info.json").write_text('{"width": 1, "height": 1}')
    assert client.get(f"/iiif/image/{BOOK}/.pending/full/max/0/default.jpg").status_code == 404
    assert client.get(f"/iiif/image/{BOOK}/.pending/info.json").status_code == 404


def test_render_from_a_single_image_when_there_is_no_pyramid(iiif_home):
    """The fallback source (the page's full/max JPEG) gives the same pixels as the pyramid."""
    from guji.iiif.image_render import render

    folder = iiif_home.derivatives / TEST_BOOK / "0001"
    request = parse_request("300,500,200,100", "100,", "0", "default.png", 1000, 1000)
    from_jpeg = pyvips.Image.new_from_buffer(render(folder / "full" / "max" / "0" / "default.jpg", request, 1000,
                                                    1000), "")
    master = pyvips.Image.new_from_file(str(TEST_IMAGE)).extract_band(0, n=3)
    assert (from_jpeg.width, from_jpeg.height) == (100, 50)
    expected = [master.crop(310, 510, 80, 80).extract_band(b).avg() for b in range(3)]
    got = [from_jpeg.crop(5, 5, 40, 40).extract_band(b).avg() for b in range(3)]
    assert all(abs(e - g) < 6 for e, g in zip(expected, got, strict=True)), (expected, got)


def test_limits_are_named_and_agree_with_info_json(client):
    """^1,99999 passed maxArea (the page's pixel count) and failed in the JPEG encoder (65,500 px), which
    was answered as a damaged image (503) with a log line telling admins to rebuild tiles."""
    info = client.get(f"/iiif/image/{TEST_BOOK}/0001/info.json").json()
    assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (1000, 1000, 1000 * 1000)
    assert "sizeUpscaling" in info["extraFeatures"]
    refused = client.get(f"/iiif/image/{TEST_BOOK}/0001/full/^1,99999/0/default.jpg")
    assert refused.status_code == 400 and "maxHeight of 1000" in refused.json()["detail"]
    # upscaling a region stays within them: the largest a 100×50 region can be is the page's width
    largest = client.get(f"/iiif/image/{TEST_BOOK}/0001/0,0,100,50/^max/0/default.jpg")
    assert largest.status_code == 200
    assert pyvips.Image.new_from_buffer(largest.content, "").width == info["maxWidth"]
    assert client.get(f"/iiif/image/{TEST_BOOK}/0001/full/^pct:101/0/default.jpg").status_code == 400


def test_format_limits_are_named():
    with pytest.raises(ImageRequestError, match="WebP image can hold.*16383"):
        parse_request("full", "max", "0", "default.webp", 20_000, 100)
    request = parse_request("full", "max", "0", "default.jpg", 70_000, 100)  # a long scroll: max fits JPEG
    assert (request.width, request.height) == (65_500, 93)


@pytest.mark.parametrize("segment", ["x" * 3000, "pct:" + "9" * 400 + ",0,1,1", "0,0," + "9" * 400 + ",1"])
def test_oversized_segments_are_refused_not_crashed_on(client, segment):
    response = client.get(f"/iiif/image/{TEST_BOOK}/0001/{segment}/max/0/default.jpg")
    assert response.status_code == 400, response.text

"""An S3-compatible bucket (`GUJI_STORAGE=s3://bucket/prefix`) as the storage code needs it: whole
objects read, written, listed and deleted under one key prefix, with boto3.

The endpoint and the credentials are found the way every AWS tool finds them — botocore reads
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``), ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, ``AWS_DEFAULT_REGION`` and the files
``~/.aws/config`` and ``~/.aws/credentials`` (``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``)
— so Guji keeps no second copy of a secret. Whatever goes wrong reaching the bucket — an endpoint
that does not answer, a bucket that does not exist, a key or secret the store refuses, the store
going away mid-request — becomes one :class:`StorageUnavailable` whose Chinese message names
``GUJI_STORAGE`` and the endpoint (never a key or secret): the CLI exits 5, the site answers 503.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import NotFound, Unavailable

SETTING = "GUJI_STORAGE"
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")  # S3's rule for bucket names
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
BLOCK = 1 << 20
SMALL_FILE = 8 * BLOCK  # Bucket.upload sends a file up to this size in one PUT from memory


class StorageUnavailable(Unavailable):
    """The object store cannot be used (endpoint unreachable, no such bucket, refused credentials …).
    Nothing was written; the web site answers 503 while it lasts."""


class KeyMissing(NotFound):
    """No object under that key (callers turn it into NotFound, or treat it as absent)."""


@dataclass(frozen=True)
class S3Location:
    """Where `GUJI_STORAGE=s3://bucket/prefix` points: the bucket and the key prefix ('' or 'a/b/')."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, value: str) -> S3Location:
        """`s3://bucket[/prefix]`; raises ValueError with a Chinese reason."""
        if not value.startswith("s3://"):
            raise ValueError("应为 s3://存储桶名/前缀（不设置则存在数据目录的 ocfl/ 中）")
        bucket, _, prefix = value[len("s3://"):].partition("/")
        if not BUCKET_NAME.match(bucket) or ".." in bucket:
            raise ValueError(f"「{bucket[:64]}」不是存储桶名：应为 3–63 个小写字母、数字、点或连字符")
        parts = [part for part in prefix.split("/") if part]
        if any(part in (".", "..") or not part.isprintable() for part in parts):
            raise ValueError("前缀中不能有 . 或 .. 段，也不能有控制字符")
        return cls(bucket, "".join(f"{part}/" for part in parts))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def _shown_endpoint(url: str | None) -> str:
    """The endpoint as it may be printed: no user name or password."""
    if not url:
        return "AWS 默认地址"
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class ReadRate:
    """At most `bytes_per_second` on average, across the threads that share it (fixity reads)."""

    def __init__(self, bytes_per_second: float | None):
        self.rate = bytes_per_second
        self.started = time.monotonic()
        self.taken = 0
        self.lock = threading.Lock()

    def take(self, count: int) -> None:
        if not self.rate:
            return
        with self.lock:
            self.taken += count
            due = self.started + self.taken / self.rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # throttling, not waiting for a condition


class Bucket:
    """One bucket and key prefix, through one boto3 client (thread-safe; share it)."""

    def __init__(self, location: S3Location):
        self.location = location
        try:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            self.client = session.client("s3", config=Config(
                connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS,
                retries={"mode": "standard"}))  # 3 attempts unless AWS_MAX_ATTEMPTS says otherwise
        except Exception as error:  # an endpoint URL botocore cannot use, a broken config file …
            raise self._unavailable(error) from None

    @property
    def endpoint(self) -> str:
        return _shown_endpoint(getattr(getattr(self, "client", None), "meta", None) and self.client.meta.endpoint_url)

    def key(self, name: str) -> str:
        return self.location.prefix + name

    # ---- errors -----------------------------------------------------------------------------------

    def _unavailable(self, error: BaseException) -> StorageUnavailable:
        return StorageUnavailable(f"对象存储无法使用（{SETTING} = {self.location}，端点 {self.endpoint}）："
                                  f"{reason_of(error, self.location.bucket)}")

    def _call(self, operation: str, **arguments):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(Bucket=self.location.bucket, **arguments)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound") and "Key" in arguments:
                raise KeyMissing(arguments["Key"]) from None
            raise self._unavailable(error) from None
        except (BotoCoreError, OSError) as error:
            raise self._unavailable(error) from None

    # ---- the bucket -------------------------------------------------------------------------------

    def check(self) -> None:
        """Reach the bucket once: raises StorageUnavailable naming what is wrong. A listing of one key
        rather than HEAD, whose answer has no body: S3 then says which — an unknown key, a wrong secret, a
        key without rights, no such bucket (the same right, s3:ListBucket, as HEAD)."""
        self._call("list_objects_v2", Prefix=self.key(""), MaxKeys=1)

    def create(self) -> None:
        """Create the bucket (tests, and `guji init` against an empty store); an existing one is kept."""
        from botocore.exceptions import ClientError

        try:
            self.client.create_bucket(Bucket=self.location.bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._unavailable(error) from None
        except Exception as error:
            raise self._unavailable(error) from None

    # ---- objects ----------------------------------------------------------------------------------

    def read(self, name: str) -> bytes:
        """The whole object; KeyMissing if there is none."""
        response = self._call("get_object", Key=self.key(name))
        return self._drain(response["Body"])

    def _drain(self, body) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return body.read()
        except (BotoCoreError, OSError) as error:  # the store went away while sending
            raise self._unavailable(error) from None
        finally:
            body.close()

    def stream(self, name: str, rate: ReadRate | None = None) -> Iterator[bytes]:
        """The object in blocks of 1 MB, at most `rate` (KeyMissing if there is none). botocore checks
        the store's own checksum of the object as it arrives when the object has one (ChecksumMode)."""
        from botocore.exceptions import BotoCoreError

        response = self._call("get_object", Key=self.key(name), ChecksumMode="ENABLED")
        body = response["Body"]
        try:
            while True:
                try:
                    block = body.read(BLOCK)
                except (BotoCoreError, OSError) as error:
                    raise self._unavailable(error) from None
                if not block:
                    return
                if rate is not None:
                    rate.take(len(block))
                yield block
        finally:
            body.close()

    def head(self, name: str) -> dict | None:
        """The object's size and ETag, or None when there is none."""
        try:
            response = self._call("head_object", Key=self.key(name))
        except KeyMissing:
            return None
        except StorageUnavailable:
            self.check()  # a refused HEAD has no body: the listing says why (an unknown key, a wrong secret …)
            raise
        return {"size": response.get("ContentLength", 0), "etag": response.get("ETag", ""),
                "modified": response.get("LastModified")}

    def exists(self, name: str) -> bool:
        return self.head(name) is not None

    def write(self, name: str, data: bytes, content_type: str | None = None) -> None:
        """Store `data` under `name` in one PUT; the store checks its SHA-256 on arrival."""
        extra = {"ContentType": content_type} if content_type else {}
        self._call("put_object", Key=self.key(name), Body=data, ChecksumAlgorithm="SHA256", **extra)

    def upload(self, path: Path, name: str, content_type: str | None = None) -> None:
        """Store a local file (multipart for large ones; each part checked by its SHA-256)."""
        from boto3.s3.transfer import TransferConfig

        if path.stat().st_size <= SMALL_FILE:  # a tile: one PUT, without boto3's transfer machinery per file
            self.write(name, path.read_bytes(), content_type)
            return
        extra = {"ChecksumAlgorithm": "SHA256", **({"ContentType": content_type} if content_type else {})}
        config = TransferConfig(multipart_threshold=64 * BLOCK, multipart_chunksize=64 * BLOCK, use_threads=False)
        try:
            self.client.upload_file(str(path), self.location.bucket, self.key(name), ExtraArgs=extra, Config=config)
        except FileNotFoundError:
            raise
        except Exception as error:  # boto3's S3UploadFailedError carries the ClientError as its cause
            raise self._unavailable(error.__cause__ or error) from None

    def download(self, name: str, target: Path) -> None:
        """Write the object to `target` (a local file); KeyMissing if there is none."""
        with open(target, "wb") as handle:
            for block in self.stream(name):
                handle.write(block)

    def listing(self, prefix: str, delimiter: str | None = "/") -> tuple[list[str], list[str]]:
        """The names under `prefix` (relative to it): (sub-folders without their '/', objects); with
        `delimiter=None` every object below, at any depth."""
        folders, names = [], []
        token = None
        while True:
            arguments = {"Prefix": self.key(prefix), **({"Delimiter": delimiter} if delimiter else {})}
            if token:
                arguments["ContinuationToken"] = token
            response = self._call("list_objects_v2", **arguments)
            start = len(self.key(prefix))
            folders += [entry["Prefix"][start:].rstrip("/") for entry in response.get("CommonPrefixes") or []]
            names += [entry["Key"][start:] for entry in response.get("Contents") or []]
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return folders, names

    def delete(self, names: list[str]) -> None:
        """Remove objects (absent ones are fine), 1000 per request."""
        for start in range(0, len(names), 1000):
            chunk = [{"Key": self.key(name)} for name in names[start:start + 1000]]
            if chunk:
                self._call("delete_objects", Delete={"Objects": chunk, "Quiet": True})


# botocore's words for what went wrong → what to tell the person
_CODES = {
    "NoSuchBucket": "存储桶「{bucket}」不存在：请先建立它，或改正 {setting}",
    "InvalidAccessKeyId": "对象存储不认识这个访问密钥：请核对 AWS_ACCESS_KEY_ID（或 AWS_PROFILE 所指的配置）",
    "SignatureDoesNotMatch": "访问密钥的密码不对：请核对 AWS_SECRET_ACCESS_KEY（或 AWS_PROFILE 所指的配置）",
    "AccessDenied": "对象存储拒绝了这个访问密钥：请给它读写存储桶「{bucket}」的权限",
    "403": "对象存储拒绝了这个访问密钥：请核对密钥，并给它读写存储桶「{bucket}」的权限",
    "404": "存储桶「{bucket}」不存在：请先建立它，或改正 {setting}",
    "SlowDown": "对象存储正忙（请求过多）：稍后会自动恢复",
    "503": "对象存储暂时不能服务：稍后会自动恢复",
}


def reason_of(error: BaseException, bucket: str) -> str:
    """Why the store could not be used, in Chinese (never a key or secret)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        message = _CODES.get(code) or _CODES.get(status)
        if message:
            return message.format(bucket=bucket, setting=SETTING)
        return f"对象存储拒绝了请求（{code or status}）"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return ("没有对象存储的访问密钥：请设置 AWS_ACCESS_KEY_ID 和 AWS_SECRET_ACCESS_KEY"
                "（或 AWS_PROFILE、~/.aws/credentials）")
    if isinstance(error, EndpointConnectionError | ConnectionClosedError):
        return "连不上对象存储的端点：请确认它已启动、网络可达，并核对 AWS_ENDPOINT_URL"
    if isinstance(error, ReadTimeoutError):
        return "对象存储没有及时回答：稍后会自动恢复"
    if isinstance(error, ValueError) and "endpoint" in str(error).lower():
        return "AWS_ENDPOINT_URL 不是可用的地址：应形如 https://s3.example.cn 或 http://127.0.0.1:9000"
    name = type(error).__name__
    if "Timeout" in name or "Connect" in name or isinstance(error, ConnectionError):
        return "连不上对象存储的端点：请确认它已启动、网络可达，并核对 AWS_ENDPOINT_URL"
    return f"{name}（详见 docs/scale-out.md「对象存储」）"

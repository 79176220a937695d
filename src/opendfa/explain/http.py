"""POST to an OpenAI-compatible `/chat/completions` with retries (standard library only)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


class EndpointError(RuntimeError):
    """The endpoint could not answer; one line."""


def post_chat(
    base_url: str,
    body: dict,
    *,
    api_key: str | None = None,
    timeout: float = 60.0,
    retries: int = 2,
) -> dict:
    """The decoded JSON reply. Server errors, 429 and network failures are retried with
    exponential backoff (0.5, 1, 2 ... s, at most 8 s); other 4xx are not."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    url = f"{base_url.rstrip('/')}/chat/completions"
    payload = json.dumps(body).encode()
    last = ""
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                reply = json.loads(response.read().decode("utf-8"))
            reply["choices"][0]["message"]["content"]
            return reply
        except urllib.error.HTTPError as err:
            last = f"HTTP {err.code} from {url}"
            if err.code < 500 and err.code != 429:
                break
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            last = f"cannot reach {url}: {getattr(err, 'reason', err)}"
        except (KeyError, IndexError, TypeError, ValueError):
            last = f"unexpected reply from {url}"
            break
        if attempt < retries:
            time.sleep(min(8.0, 0.5 * 2**attempt))
    raise EndpointError(last)

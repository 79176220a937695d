"""The one OpenAI-compatible chat client: `ChatClient` (standard library only).

Chat's `openai` backend, DFA-Bench's `openai` answerer and the DFA-Instruct LLM describer all
talk to their endpoint through it: `post_chat` POSTs to `/chat/completions` with retries, and
`ChatClient` holds where, which model and how patiently, and returns the reply's text with the
tokens it used.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


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


@dataclass
class ChatReply:
    text: str
    usage: dict = field(default_factory=dict)  # as the endpoint reports it

    @property
    def prompt_tokens(self) -> int:
        return int(self.usage.get("prompt_tokens", 0))

    @property
    def completion_tokens(self) -> int:
        return int(self.usage.get("completion_tokens", 0))


@dataclass
class ChatClient:
    """One endpoint and model: `complete(messages, temperature=..., max_tokens=...)`."""

    base_url: str
    model: str = "default"
    api_key: str | None = None
    timeout: float = 60.0
    retries: int = 2

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    def complete(self, messages: list[dict], **settings) -> ChatReply:
        """The reply to `messages`; `settings` (temperature, max_tokens...) go into the
        request as they are. `EndpointError` when the endpoint cannot answer."""
        body = {"model": self.model, "messages": messages, **settings}
        reply = post_chat(
            self.base_url, body, api_key=self.api_key, timeout=self.timeout, retries=self.retries
        )
        text = str(reply["choices"][0]["message"]["content"])
        return ChatReply(text, reply.get("usage") or {})

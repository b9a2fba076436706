"""The request bodies of the HTTP API (they make its OpenAPI description at /docs)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .passages import MAX_K

SCOPE = ("answer only from these documents: paths relative to the corpus folder, folders or glob "
         "patterns (`reports/*.pdf`, `notes/**`)")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[Any] | None = None


class ChatRequest(BaseModel):
    """An OpenAI chat-completions request. `model`, `temperature` and other sampling options are
    accepted and ignored: answers are always verified answers from the served model."""
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    sources: list[str] | None = Field(None, description=SCOPE)


class AskRequest(BaseModel):
    question: str
    history: list[Any] | None = Field(None, description="earlier turns: Answer JSON objects, "
                                                        "{question, answer} objects or questions")
    sources: list[str] | None = Field(None, description=SCOPE)


class SearchRequest(BaseModel):
    query: str
    k: int | None = Field(None, ge=1, le=MAX_K, description="how many passages (default: the top_k setting)")
    sources: list[str] | None = Field(None, description=SCOPE)

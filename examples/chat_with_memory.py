"""A three-turn chat on the reference engine, persisted in SQLite, then read back."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from checkpointkit.backends.sqlite import SqliteSaver
from checkpointkit.reference_engine import END, START, MessagesState, StateGraph


def reply(state: MessagesState) -> dict[str, Any]:
    last = state["messages"][-1]
    return {"messages": [{"role": "assistant", "content": f"you said: {last['content']}"}]}


def main(path: str) -> None:
    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    config = {"configurable": {"thread_id": "demo"}}
    with SqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        for text in ("hello", "how are you?", "bye"):
            graph.invoke({"messages": [{"role": "user", "content": text}]}, config)
    with SqliteSaver.from_conn_string(path) as saver:  # a new process would see the same
        graph = builder.compile(checkpointer=saver)
        for message in graph.get_state(config).values["messages"]:
            print(f"{message['role']:>9}: {message['content']}")
        print(len(list(graph.get_state_history(config))), "checkpoints")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(tempfile.mkdtemp()) / "chat.sqlite"))

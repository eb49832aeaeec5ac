"""Stop nbclient from losing a cell's execute_reply when the cell fills an ipywidgets Output.

The stall (chapter 3, whose ``interact`` draws its figure into an Output widget): the kernel
answers the cell in well under a second, but nbclient notices the answer only when its wait
for it times out -- after exactly the per-cell timeout (1800 s in the book build) -- and then
carries on as if nothing had happened.

Cause. nbclient mimics the front end's Output widget (``nbclient.output_widget.OutputWidget``):
every output captured by an Output widget is synced back to the kernel with a ``comm_msg``
sent on the shell channel, from the task that reads IOPub. That send goes through
``jupyter_client.session.Session.send``, which swaps the ``zmq.asyncio`` socket for a plain
*shadow* socket and sends on it directly. At that moment nbclient's other task is awaiting
the cell's ``execute_reply`` on the same socket (``zmq.asyncio`` poll, driven by the socket's
edge-triggered ZMQ_FD). A send makes libzmq process the socket's pending commands, among them
"a message has arrived", which drains the FD; the asyncio wrapper never sees the send, so it
never re-checks the socket. If the reply arrived just before the send, the poll is not woken
and resolves only at its timeout, when pyzmq's final zero-timeout poll finds the reply that
was waiting all along. Upstream: jupyter/nbclient#312 (open); the kernel-side twin of the
bug was ipython/ipykernel#1554 (fixed in ipykernel 7.4 by ipython/ipykernel#1529).

Fix. Send the widget's ``comm_msg`` through the ``zmq.asyncio`` socket itself. Its
``send_multipart`` re-checks the socket's events for pending receivers after sending
(pyzmq ``_AsyncSocket._add_send_event``), so a reply that is already there wakes the poll at
once. Everything else is unchanged: the same message reaches the kernel, the same widget
state is saved in the notebook.

Used by the book build (a Sphinx extension, see ``_config.yml`` ``sphinx.local_extensions``),
by ``tests/test_notebooks_quick.py`` and by ``tools/stress_execute.py``; ``apply()`` is
idempotent.
"""
from __future__ import annotations

import logging
from typing import Any

import zmq.asyncio

log = logging.getLogger(__name__)


def _publish_msg(self, msg_type: str, data: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None, buffers: list[Any] | None = None,
                 **keys: Any) -> None:
    """``OutputWidget._publish_msg`` (nbclient 0.11) with the send made through the asyncio
    socket, so that a pending poll on it cannot miss a reply."""
    from nbclient.jsonutil import json_clean

    data = {} if data is None else data
    metadata = {} if metadata is None else metadata
    content = json_clean(dict(data=data, comm_id=self.comm_id, **keys))
    kc = self.kernel_client
    msg = kc.session.msg(msg_type, content=content, parent=self.parent_header,
                         metadata=metadata)
    socket = kc.shell_channel.socket
    if isinstance(socket, zmq.asyncio.Socket):
        socket.send_multipart(kc.session.serialize(msg))
    else:  # a blocking client: its polls are level-triggered, a raw send is harmless
        kc.shell_channel.send(msg)


_publish_msg._modgrow_fix = True  # type: ignore[attr-defined]
_original = None


def is_applied() -> bool:
    from nbclient.output_widget import OutputWidget

    return getattr(OutputWidget._publish_msg, "_modgrow_fix", False)


def original():
    """nbclient's own ``OutputWidget._publish_msg`` (for the tests)."""
    from nbclient.output_widget import OutputWidget

    return _original if is_applied() else OutputWidget._publish_msg


def apply() -> None:
    """Install the fix in nbclient's Output-widget mimic (idempotent)."""
    global _original
    from nbclient.output_widget import OutputWidget

    if not is_applied():
        _original = OutputWidget._publish_msg
        OutputWidget._publish_msg = _publish_msg
        log.debug("nbclient_widget_fix: OutputWidget comm_msg now sent through zmq.asyncio")


def setup(app):
    """Sphinx extension entry point (myst-nb executes the notebooks in the Sphinx process)."""
    from sphinx.util import logging as sphinx_logging

    apply()
    sphinx_logging.getLogger(__name__).info(
        "nbclient_widget_fix: Output-widget comm messages go through zmq.asyncio")
    return {"parallel_read_safe": True, "parallel_write_safe": True}

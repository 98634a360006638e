#!/usr/bin/python3
"""Closes a top-level X11 window the way a window manager's close button does: by sending it
WM_DELETE_WINDOW (ICCCM 4.1.2.7), which GTK turns into the window's close request. Used by the
benchmarks under Xvfb, where no window manager runs.

    close_window.py TITLE      # exits 0 when one was asked to close, 1 when none has that title
"""
import sys

from Xlib import X, display
from Xlib.protocol import event


def main() -> int:
    title = sys.argv[1]
    d = display.Display()
    root = d.screen().root
    delete = d.intern_atom("WM_DELETE_WINDOW")
    protocols = d.intern_atom("WM_PROTOCOLS")
    net_name = d.intern_atom("_NET_WM_NAME")
    utf8 = d.intern_atom("UTF8_STRING")
    closed = 0
    for w in root.query_tree().children:
        try:
            prop = w.get_full_property(net_name, utf8)
            name = prop.value.decode() if prop else (w.get_wm_name() or "")
            if name != title or w.get_attributes().map_state != X.IsViewable:
                continue
            msg = event.ClientMessage(
                window=w, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
            )
            w.send_event(msg, event_mask=X.NoEventMask)
            closed += 1
        except Exception:  # a window that went away while we looked
            continue
    d.flush()
    return 0 if closed else 1


if __name__ == "__main__":
    sys.exit(main())

"""The app's X window as a window manager sees it: found by title, shown or
not, closed as its close button does. Used by the end-to-end suite and by
the footprint benchmark (benches/app_footprint.py).
"""

from Xlib import X, display, protocol


def _find(d, title):
    """The first window under the root titled `title`, or None."""
    def walk(w):
        try:
            if w.get_wm_name() == title:
                return w
            for child in w.query_tree().children:
                found = walk(child)
                if found is not None:
                    return found
        except Exception:  # a window that went away while walking
            return None
        return None

    return walk(d.screen().root)


def shown(title="Tapprove"):
    """Whether the window titled `title` is on screen (None: there is none;
    a window never shown may not have one yet)."""
    d = display.Display()
    try:
        window = _find(d, title)
        return None if window is None else window.get_attributes().map_state == X.IsViewable
    finally:
        d.close()


def close(title="Tapprove"):
    """Sends WM_DELETE_WINDOW to the window titled `title`; False if there is none."""
    d = display.Display()
    try:
        window = _find(d, title)
        if window is None:
            return False
        delete, protocols = d.intern_atom("WM_DELETE_WINDOW"), d.intern_atom("WM_PROTOCOLS")
        window.send_event(protocol.event.ClientMessage(
            window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])))
        # A round trip: the server has taken the event before the
        # connection closes (closing after a flush alone sometimes lost it).
        d.sync()
        return True
    finally:
        d.close()

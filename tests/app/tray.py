"""The app's tray item as a tray host sees it over D-Bus (the
StatusNotifierItem and its dbusmenu): used by the end-to-end suite and by
the footprint benchmark (benches/app_footprint.py).
"""

import xml.etree.ElementTree as ET

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
from jeepney.wrappers import Properties


def item_paths(conn, service, path="/"):
    """Object paths under `path` of `service` that implement a StatusNotifierItem."""
    node = DBusAddress(path, bus_name=service, interface="org.freedesktop.DBus.Introspectable")
    reply = conn.send_and_get_reply(new_method_call(node, "Introspect"))
    tree = ET.fromstring(reply.body[0])
    found = [path] if any(i.get("name") == "org.kde.StatusNotifierItem" for i in tree.findall("interface")) else []
    for child in tree.findall("node"):
        found += item_paths(conn, service, path.rstrip("/") + "/" + child.get("name"))
    return found


def tray_item():
    """The first registered tray item that has a menu: (connection, item
    address, menu address).

    The watcher lists items by bus name (and path, when the item gave one);
    an item registered by name alone lives at /StatusNotifierItem (the
    spec's default: Tapprove's agent), libayatana-appindicator's at
    /org/ayatana/NotificationItem/<id>.
    """
    conn = open_dbus_connection(bus="SESSION")
    watcher = DBusAddress("/StatusNotifierWatcher", bus_name="org.kde.StatusNotifierWatcher",
                          interface="org.kde.StatusNotifierWatcher")
    items = conn.send_and_get_reply(Properties(watcher).get("RegisteredStatusNotifierItems")).body[0][1]
    assert items, "no tray item registered with the watcher"
    # The watcher may also list entries that are no item (seen: one the
    # tray host could not parse): try each, and take the first that has a menu.
    problems = []
    for entry in items:
        service, _, path = entry.partition("/")
        try:
            # Without a path the item is at the spec's /StatusNotifierItem.
            for item_path in (["/" + path] if path else item_paths(conn, service, "/")):
                item = DBusAddress(item_path, bus_name=service, interface="org.kde.StatusNotifierItem")
                menu_path = conn.send_and_get_reply(Properties(item).get("Menu")).body[0][1]
                return conn, item, DBusAddress(menu_path, bus_name=service, interface="com.canonical.dbusmenu")
        except Exception as e:  # not an item after all: the next entry
            problems.append(f"{entry!r}: {e!r}")
    raise AssertionError(f"no tray item with a menu among {items} ({problems})")


def tray_menu():
    """The app's tray menu: (connection, menu address, layout)."""
    conn, _, menu = tray_item()
    layout = conn.send_and_get_reply(new_method_call(menu, "GetLayout", "iias", (0, -1, []))).body[1]
    return conn, menu, layout


def tray_tooltip():
    """The title of the tray item's tooltip (e.g. "Tapprove: 3 requests wait for you")."""
    conn, item, _ = tray_item()
    try:
        # ToolTip is (icon name, icon pixmaps, title, text).
        return conn.send_and_get_reply(Properties(item).get("ToolTip")).body[0][1][2]
    finally:
        conn.close()


def labels(layout):
    """(id, label) of every entry in a dbusmenu layout."""
    node_id, props, children = layout
    out = []
    if "label" in props:
        out.append((node_id, props["label"][1]))
    for child in children:
        out.extend(labels(child[1]))
    return out

//! The standalone app's tray, drawn by Tauri (macOS, Windows); what it
//! shows and what its entries do are `tapprove_desk::tray`'s.

use std::sync::{Mutex, PoisonError};

use tapprove_desk::models::Overview;
use tapprove_desk::tray::{entries, icon_png, look, tooltip};
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

pub const TRAY: &str = "tapprove";

/// The menu and icon last shown, so an unchanged overview costs nothing.
#[derive(Debug, Default)]
pub struct Shown(Mutex<Option<String>>);

fn menu<R: Runtime>(app: &AppHandle<R>, overview: &Overview) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for entry in entries(overview) {
        match entry {
            Some((id, label, enabled)) => {
                menu.append(&MenuItem::with_id(app, id, label, enabled, None::<&str>)?)?
            }
            None => menu.append(&PredefinedMenuItem::separator(app)?)?,
        }
    }
    Ok(menu)
}

/// Creates the tray icon; `on_menu` does what a menu entry (its id) asks.
pub fn create<R: Runtime>(
    app: &AppHandle<R>,
    overview: &Overview,
    on_menu: fn(&AppHandle<R>, &str),
) -> tauri::Result<()> {
    TrayIconBuilder::with_id(TRAY)
        .icon(Image::from_bytes(icon_png(look(overview)))?)
        .tooltip(tooltip(overview))
        .menu(&menu(app, overview)?)
        .show_menu_on_left_click(cfg!(target_os = "linux"))
        .on_menu_event(move |app: &AppHandle<R>, event: MenuEvent| on_menu(app, event.id().as_ref()))
        .on_tray_icon_event(|tray, event| {
            // macOS and Windows: a left click opens the window next to the
            // icon; the right click shows the menu.
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                rect,
                ..
            } = event
            {
                let anchor = rect.position.to_physical::<f64>(1.0);
                crate::window::open_near(tray.app_handle(), "/inbox", Some((anchor.x, anchor.y)));
            }
        })
        .build(app)?;
    app.manage(Shown::default());
    Ok(())
}

/// Shows `overview` in the tray, if it changed what the tray shows.
pub fn redraw<R: Runtime>(app: &AppHandle<R>, overview: &Overview) -> tauri::Result<()> {
    let Some(tray) = app.tray_by_id(TRAY) else {
        return Ok(());
    };
    let look = look(overview);
    let signature = format!("{look:?}{:?}{}", entries(overview), tooltip(overview));
    let shown = app.state::<Shown>();
    let mut last = shown.0.lock().unwrap_or_else(PoisonError::into_inner);
    if last.as_deref() == Some(signature.as_str()) {
        return Ok(());
    }
    tray.set_icon(Some(Image::from_bytes(icon_png(look))?))?;
    tray.set_tooltip(Some(tooltip(overview)))?;
    let count = overview.inbox.len();
    tray.set_title((count > 0).then(|| count.to_string()))?;
    tray.set_menu(Some(menu(app, overview)?))?;
    *last = Some(signature);
    Ok(())
}

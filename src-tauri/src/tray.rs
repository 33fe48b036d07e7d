//! The tray icon and its menu: the count of waiting requests at a glance
//! (a badge on the icon, and the count as the label where the host shows
//! one), the session's health, and everything the window offers. Linux
//! tray hosts often ignore clicks on the icon itself, so every action is
//! in the menu.

use std::sync::{Mutex, PoisonError};

use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

use crate::models::{Health, Overview};
use crate::text::{one_line, short_time_on};

pub const TRAY: &str = "tapprove";

/// The menu and icon last shown, so an unchanged overview costs nothing.
#[derive(Debug, Default)]
pub struct Shown(Mutex<Option<String>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Idle,
    Waiting,
    Problem,
}

fn look(overview: &Overview) -> Look {
    if !overview.session.is_healthy() || overview.problem.is_some() {
        Look::Problem
    } else if overview.inbox.is_empty() {
        Look::Idle
    } else {
        Look::Waiting
    }
}

fn icon(look: Look) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match look {
        Look::Idle => include_bytes!("../../icons/tray-idle.png").as_slice(),
        Look::Waiting => include_bytes!("../../icons/tray-waiting.png").as_slice(),
        Look::Problem => include_bytes!("../../icons/tray-problem.png").as_slice(),
    })
}

/// The tooltip: what waits and whether anything is wrong.
pub fn tooltip(overview: &Overview) -> String {
    let mut text = match overview.inbox.len() {
        0 => "Tapprove: nothing waits for you".to_owned(),
        1 => "Tapprove: 1 request waits for you".to_owned(),
        n => format!("Tapprove: {n} requests wait for you"),
    };
    if !overview.session.is_healthy() {
        text.push_str(" · ");
        text.push_str(match overview.session.health {
            Health::SignedOut => "signed out",
            Health::Offline => "offline",
            Health::NotConfigured => "not set up",
            _ => "sign-in problem",
        });
    } else if overview.problem.is_some() {
        text.push_str(" · cannot reach AWS");
    }
    if overview.paused_until.is_some() {
        text.push_str(" · notifications paused");
    }
    text
}

/// The menu entries, as (id, label, enabled); `None` is a separator.
pub fn entries(overview: &Overview) -> Vec<Option<(String, String, bool)>> {
    let mut items = Vec::new();
    if overview.inbox.is_empty() {
        items.push(Some(("none".into(), "No requests waiting".into(), false)));
    }
    for request in overview.inbox.iter().take(15) {
        items.push(Some((
            format!("request:{}", request.id),
            format!(
                "{} · until {}",
                one_line(&request.title, 60),
                short_time_on(&request.deadline, &overview.today)
            ),
            true,
        )));
    }
    if overview.inbox.len() > 15 {
        items.push(Some((
            "open".into(),
            format!("{} more…", overview.inbox.len() - 15),
            true,
        )));
    }
    items.push(None);
    items.push(Some(("open".into(), "Open Tapprove".into(), true)));
    let identity = match (&overview.session.approver, overview.session.is_healthy()) {
        (Some(who), true) => format!("Signed in as {}", one_line(who, 40)),
        _ => "Sign in…".to_owned(),
    };
    items.push(Some(("sign-in".into(), identity, true)));
    let pause = if overview.paused_until.is_some() {
        "Resume notifications"
    } else {
        "Pause notifications for 1 hour"
    };
    items.push(Some(("pause".into(), pause.into(), true)));
    items.push(None);
    items.push(Some(("quit".into(), "Quit Tapprove".into(), true)));
    items
}

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
        .icon(icon(look(overview))?)
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
    tray.set_icon(Some(icon(look)?))?;
    tray.set_tooltip(Some(tooltip(overview)))?;
    let count = overview.inbox.len();
    tray.set_title((count > 0).then(|| count.to_string()))?;
    tray.set_menu(Some(menu(app, overview)?))?;
    *last = Some(signature);
    Ok(())
}

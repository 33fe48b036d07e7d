//! The tray over D-Bus (StatusNotifierItem and its dbusmenu, `ksni`): no
//! GTK, no WebKit. What it shows comes from `crate::tray`.

use std::sync::{Arc, OnceLock};

use crate::models::Overview;
use crate::shell::Shell;
use crate::state::Tapprove;
use crate::tray::{Look, entries, icon_png, look, tooltip};

/// The tray item: the overview it shows, and who acts on its menu.
pub struct Item {
    pub overview: Overview,
    pub shell: Arc<dyn Shell>,
    pub state: Arc<Tapprove>,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("overview", &self.overview)
            .finish_non_exhaustive()
    }
}

/// The three icons, decoded once (ARGB32, network byte order).
fn pixmap(look: Look) -> Vec<ksni::Icon> {
    static ICONS: OnceLock<[Option<ksni::Icon>; 3]> = OnceLock::new();
    let icons = ICONS.get_or_init(|| [Look::Idle, Look::Waiting, Look::Problem].map(|l| decode(icon_png(l))));
    let index = match look {
        Look::Idle => 0,
        Look::Waiting => 1,
        Look::Problem => 2,
    };
    icons[index].iter().cloned().collect()
}

fn decode(png_bytes: &[u8]) -> Option<ksni::Icon> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut data = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut data).ok()?;
    data.truncate(frame.buffer_size());
    let rgba: Vec<u8> = match frame.color_type {
        png::ColorType::Rgba => data,
        png::ColorType::Rgb => data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => data
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => data.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
        png::ColorType::Indexed => return None,
    };
    let argb = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[3], p[0], p[1], p[2]])
        .collect();
    Some(ksni::Icon {
        width: i32::try_from(frame.width).ok()?,
        height: i32::try_from(frame.height).ok()?,
        data: argb,
    })
}

impl ksni::Tray for Item {
    // A click on the icon shows the menu (as most Linux hosts do anyway).
    const MENU_ON_ACTIVATE: bool = true;

    fn id(&self) -> String {
        "tapprove".into()
    }

    fn title(&self) -> String {
        match self.overview.inbox.len() {
            0 => "Tapprove".into(),
            n => format!("Tapprove ({n})"),
        }
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::Communications
    }

    fn status(&self) -> ksni::Status {
        match look(&self.overview) {
            Look::Idle => ksni::Status::Active,
            Look::Waiting | Look::Problem => ksni::Status::NeedsAttention,
        }
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        pixmap(look(&self.overview))
    }

    fn attention_icon_pixmap(&self) -> Vec<ksni::Icon> {
        pixmap(look(&self.overview))
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            title: tooltip(&self.overview),
            ..Default::default()
        }
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        entries(&self.overview)
            .into_iter()
            .map(|entry| match entry {
                None => ksni::MenuItem::Separator,
                Some((id, label, enabled)) => ksni::menu::StandardItem {
                    label,
                    enabled,
                    activate: Box::new(move |item: &mut Self| {
                        crate::tray::chosen(&item.shell, &item.state, &id)
                    }),
                    ..Default::default()
                }
                .into(),
            })
            .collect()
    }

    /// The menu is opening: most choices in it open the window, so it
    /// starts now, hidden (see `agent::window`).
    fn menu_about_to_show(&mut self) {
        self.shell.prepare();
    }

    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        eprintln!("tapprove-app: no tray host for now ({reason:?}); the tray shows when one starts");
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_icons_decode_to_argb() {
        for look in [Look::Idle, Look::Waiting, Look::Problem] {
            let icon = decode(icon_png(look)).unwrap();
            assert!(icon.width > 0 && icon.height > 0);
            assert_eq!(icon.data.len(), (icon.width * icon.height * 4) as usize);
            // Some pixel is opaque (the alpha byte leads).
            assert!(icon.data.chunks_exact(4).any(|p| p[0] == 255));
        }
    }
}

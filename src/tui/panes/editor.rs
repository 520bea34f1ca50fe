//! A text editor pane (instruction, query).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

use super::block;

pub fn draw(f: &mut Frame, area: Rect, title: &str, editor: &TextArea<'_>, focused: bool) {
    let b = block(format!(" {title} "), focused);
    let inner = b.inner(area);
    f.render_widget(b, area);
    f.render_widget(editor, inner);
}

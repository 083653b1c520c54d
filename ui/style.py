"""How the chat looks: the CSS of the sources panel and the theme (system fonts: nothing loads from the internet)."""
from __future__ import annotations

CSS = """
/* nowrap + no shrinking: a panel taller than max-height scrolls instead of wrapping into a second column */
#rag-sources-col { max-height: 78vh; overflow-y: auto; flex-wrap: nowrap; }
#rag-sources-col > * { flex-shrink: 0; }
.rag-sources { font-size: 0.92rem; line-height: 1.45; }
.rag-empty { color: var(--body-text-color-subdued); padding: 1rem; border: 1px dashed var(--border-color-primary);
             border-radius: 8px; }
.rag-head { font-weight: 600; margin-bottom: 0.4rem; color: var(--body-text-color-subdued); }
.rag-sub { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; margin: 0.6rem 0 0.3rem;
           color: var(--body-text-color-subdued); }
.rag-card { border: 1px solid var(--border-color-primary); border-left: 4px solid #3b82f6; border-radius: 8px;
            padding: 0.6rem 0.8rem; margin-bottom: 0.6rem; background: var(--background-fill-secondary); }
.rag-card.rag-unsupported { border-left-color: #dc2626; }
.rag-card.rag-related { border-left-color: #9ca3af; }
.rag-card-top { font-weight: 600; }
.rag-num { color: #2563eb; margin-right: 0.2rem; }
.rag-unsupported .rag-num { color: #dc2626; }
.rag-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 0.15rem 0 0.35rem; }
.rag-passage { margin: 0; }
.rag-passage mark, .rag-quote mark { background: #fde68a; color: #111827; padding: 0 2px; border-radius: 2px; }
.rag-quote { font-size: 0.85rem; margin: 0.3rem 0 0; }
.rag-link { font-size: 0.78rem; margin-top: 0.3rem; word-break: break-all; color: var(--body-text-color-subdued); }
.rag-badge { display: inline-block; font-size: 0.75rem; padding: 0 6px; border-radius: 999px; margin-left: 4px; }
.rag-ok { background: #dcfce7; color: #166534; }
.rag-bad { background: #fee2e2; color: #991b1b; }
.rag-abstain { background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; border-radius: 8px;
               padding: 0.5rem 0.8rem; margin-bottom: 0.4rem; }
.rag-sources details { margin-top: 0.4rem; font-size: 0.85rem; }
#rag-status { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.rag-table { width: 100%; border-collapse: collapse; font-size: 0.85rem; margin-bottom: 0.6rem; }
.rag-table th { text-align: left; font-weight: 600; font-size: 0.75rem; text-transform: uppercase;
                letter-spacing: 0.03em; color: var(--body-text-color-subdued);
                border-bottom: 2px solid var(--border-color-primary); padding: 0.25rem 0.35rem; }
.rag-sources table.rag-table th, .rag-sources table.rag-table td { border: none; }
.rag-sources table.rag-table td { vertical-align: top; border-bottom: 1px solid var(--border-color-primary);
                                  padding: 0.4rem 0.35rem; }
.rag-sources table.rag-table th { border-bottom: 2px solid var(--border-color-primary); }
.rag-table td.rag-num { font-weight: 600; white-space: nowrap; }
.rag-table tr.rag-unsupported td.rag-num { color: #dc2626; }
.rag-table .rag-title { font-weight: 600; }
.rag-table .rag-meta { margin: 0.1rem 0 0.25rem; }
.rag-contrib { font-size: 0.85rem; }
.rag-table td.rag-quote { width: 45%; font-size: 0.82rem; margin: 0; }
.rag-flagged { color: #991b1b; }
.rag-leftout li, .rag-flagged-list li { margin-bottom: 0.2rem; }
"""


def make_theme():
    """System fonts only: the page loads nothing from the internet."""
    import gradio as gr

    return gr.themes.Soft(primary_hue="blue", font=["ui-sans-serif", "system-ui", "sans-serif"])

"""The HTML/SVG report kit: every Perennia page (evaluation reports, model cards, drift and
data-validation pages, the web UI) is built from these parts, so they look like one family.

- `format`: numbers for people, escaping of user text (`text`), HTML tables, number cells, badges.
- `axes`: palette, round ticks, the plot frame with its axes, legends, the `<svg>` wrapper.
- `svg`: line, grouped bar, heatmap, scatter and histogram charts.
- `curves`: ROC, precision-recall and reliability charts from ready-made series.
- `page`: sections, figures, the page header and the whole self-contained page.
- `style`: the one inline stylesheet.

Pages load nothing (no scripts, fonts or images), so they open offline. Like all of `_util`,
the kit imports only the standard library.
"""

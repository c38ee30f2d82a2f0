"""The monitor's table of extensions: a DataTable whose cell updates repaint only the rows that
changed (the monitor writes hundreds of cells a second over 1,000 extensions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, ColumnKey, RowKey


class ExtensionTable(DataTable[Text]):
    """A DataTable whose cell updates repaint only the rows that changed.

    `DataTable.update_cell` bumps a table-wide counter that is part of every render-cache key, so
    one changed cell re-renders every visible row. At 200 changes per second over 1,000 extensions
    that is a full table render on every tick, and a key press waits behind it. `set_row_cells`
    writes the cells of many rows at once, drops only those rows' cached renders and repaints only
    their lines. Adding, removing and sorting rows still go through DataTable's own methods.
    The caches are DataTable internals (Textual 8.2); if they are not there, it falls back to
    `update_cell`."""

    _CACHES = ("_data", "_row_locations", "_cell_render_cache", "_row_render_cache",
               "_row_renderable_cache", "_line_cache")
    _REMOVE_STATE = ("_data", "_row_locations", "_updated_cells", "_require_update_dimensions", "_update_count")

    def add_row(self, *cells: Any, height: int | None = 1, key: str | None = None,
                label: Any = None) -> RowKey:
        if height != 1:  # set_row_cells maps a row to one line
            raise ValueError("extension rows are one line high")
        return super().add_row(*cells, height=height, key=key, label=label)

    def remove_rows(self, keys: Iterable[str]) -> None:
        """Removes many rows at once. `remove_row` re-indexes every row on each call, so narrowing
        a filter from 1,000 rows to 10 took ~0.4 s; this re-indexes once (DataTable.remove_row's
        steps, for a set of rows)."""
        gone = {RowKey(key) for key in keys}
        gone = {key for key in gone if key in self.rows}
        if len(gone) < 8 or not all(hasattr(self, name) for name in self._REMOVE_STATE):
            for key in gone:
                self.remove_row(key)
            return
        from textual._two_way_dict import TwoWayDict

        self._require_update_dimensions = True
        self.check_idle()
        kept = sorted((self._row_locations.get(key), key) for key in self._row_locations if key not in gone)
        self._row_locations = TwoWayDict({key: index for index, (_, key) in enumerate(kept)})
        for key in gone:
            for column_key in self._data.get(key, {}):
                self._updated_cells.discard(CellKey(key, column_key))
            del self.rows[key]
            del self._data[key]
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.refresh(layout=True)

    def set_row_cells(self, changes: dict[str, dict[str, Text]]) -> None:
        """Writes `{row key: {column key: value}}` and repaints those rows only."""
        if not changes:
            return
        if not all(hasattr(self, name) for name in self._CACHES):
            for row, cells in changes.items():
                for column, value in cells.items():
                    self.update_cell(row, column, value)
            return
        rows: set[RowKey] = set()
        for row, cells in changes.items():
            row_key = RowKey(row)
            data = self._data[row_key]
            for column, value in cells.items():
                data[ColumnKey(column)] = value
            rows.add(row_key)
        indices = {self._row_locations.get(row_key) for row_key in rows}
        header = self.header_height if self.show_header else 0
        lines = {index + header for index in indices}
        _discard(self._cell_render_cache, lambda key: key[0] in rows)
        _discard(self._row_render_cache, lambda key: key[0] in rows)
        _discard(self._row_renderable_cache, lambda key: key[1] in indices)
        _discard(self._line_cache, lambda key: key[0] in lines)
        top = int(self.scroll_offset.y)  # rows out of view repaint when they scroll in
        bottom = top + self.size.height
        for index in sorted(indices):
            if top <= index + header and index < bottom:
                self.refresh_row(index)


def _discard(cache: Any, stale: Callable[[Any], bool]) -> None:
    for key in [key for key in cache.keys() if stale(key)]:
        cache.discard(key)

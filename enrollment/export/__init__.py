"""通报导出: the export model (figures of one week), and its renderers: charts, the Excel 通报表,
the Word 通报稿, the 张榜 boards and the browser that draws images and PDFs."""

"""How they are shown: formatting, the wording the PDF, HTML and CSV share, and each rendering."""

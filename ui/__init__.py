"""The studio: a Streamlit face on the etbuilder library (`etb ui`).

Every check, inference and decision it shows comes from the functions the CLI uses; the modules
here only arrange them for a browser. Pages live in `ui/pages/`, the logic they share (workspace,
runs, forms, plan wording) in small modules beside this file, testable without a browser.
"""

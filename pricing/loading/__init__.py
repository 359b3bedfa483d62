"""Loading and validating product folders, a module per section of the files:

    reader     typed access to one YAML document, errors collected with file and line
    inputs     inputs and derived values            tables   rating tables (CSV)
    coverage   eligibility, cover, benefits, refunds rating   the rating section
    claims     claim rules and review thresholds    edition  one edition folder
    product    a product folder, and a folder of products

A product is loaded whole or not at all: every error found is reported (file, line, path,
reason) and the product is refused with all of them.
"""

"""The distribution statement as semantic HTML, for the browser and for the web UI to embed.

The same sections, lines and totals as the PDF: per pot a ``<section>`` with its heading, the
awards, a ``<table>`` of allocations (``<caption>``, ``<th scope="col">``, totals in
``<tfoot>``), the summary of totals and the balance note. Amount cells carry ``class="num"``
(right-aligned) and ``data-pence`` with the exact integer, so scripts and tests never have to parse
"£82,336.18" back.

The template is a string in this module (no package data) and Jinja2 autoescaping is on, so
anything a person typed is escaped: ``render_html(statement, standalone=False)`` returns a fragment
the web UI can put straight into its own page. ``standalone=True`` wraps it in a minimal
``<!doctype html>`` page with a small stylesheet and no scripts.

The wide tables carry the design system's ``ds_table`` class and ``data-smallscreen="scrolling"``:
in the web UI, on a narrow screen, they scroll within themselves with the first column kept in
view, instead of pushing the whole page sideways. The standalone page ignores both.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup

from statements.render.formatting import (
    chain_line,
    day,
    financial_years,
    moment,
    money,
    signed_line,
)
from statements.render.wording import (
    ALLOCATION_HEADER,
    AWARD_HEADER,
    MOVEMENT_HEADER,
    movement_amounts,
    needs_attention,
    row_notes,
    section_note,
    summary_lines,
)
from statements.reports.distribution import DistributionStatement

FRAGMENT = """\
{%- macro amount(pence, tag="td") -%}
<{{ tag }} class="num" data-pence="{{ pence }}">{{ pence | money }}</{{ tag }}>
{%- endmacro -%}
<article class="distribution-statement">
<header>
<p class="kicker">{{ s.organisation }} · {{ s.title }}</p>
<h1>{{ s.section.heading }}</h1>
{%- set top = s.section %}
<p class="meta">{{ top.stream or top.pot }}
{%- if top.financial_years %} · financial year{{ "s" if top.financial_years | length > 1 }}
{{ top.financial_years | years }}{% endif %} · administered by {{ top.administered_by }}
· figures as at
<time datetime="{{ s.as_at.isoformat() }}">{{ s.as_at | day }}</time></p>
{%- for note in top.years_notes %}
<p class="meta years">{{ note }}</p>
{%- endfor %}
{%- if s.signoff and s.signoff.superseded_by %}
<p class="balance-note attention superseded">Superseded: entries dated on or before the as-at
date were recorded after this statement was signed:
{{ s.signoff.superseded_by | join("; ") }}</p>
{%- endif %}
</header>
{% for depth, section in s.sections() %}
{%- set h = "h%d" % ([depth + 2, 6] | min) %}
<section class="pot depth-{{ depth }}" data-pot="{{ section.pot }}">
{%- if depth %}
<{{ h }}>{{ section.heading }}</{{ h }}>
<p class="meta">{{ section | section_note }}</p>
{%- for note in section.years_notes %}
<p class="meta years">{{ note }}</p>
{%- endfor %}
{%- endif %}
{%- if section.awards %}
<table class="awards ds_table" data-smallscreen="scrolling">
<caption>Awards to {{ section.pot }}</caption>
<thead><tr>
{%- for head in award_header %}
<th scope="col"{% if loop.index > 3 %} class="num"{% endif %}>{{ head }}</th>
{%- endfor %}
</tr></thead>
<tbody>
{%- for award in section.awards %}
<tr{% if award.is_assumption %} class="assumption"{% endif %}>
<td>{{ award.funder }}<br><span class="ref">{{ award.reference }}</span></td>
<td><time datetime="{{ award.award_date.isoformat() }}">{{ award.award_date | day }}</time></td>
<td>{% if award.is_assumption %}<strong>assumption</strong>{% else %}named funder{% endif %}</td>
{{ amount(award.amount_pence) }}
{{ amount(award.received_pence) }}
</tr>
{%- endfor %}
</tbody>
</table>
{%- endif %}
<table class="allocations ds_table" data-smallscreen="scrolling">
<caption>Allocations from {{ section.pot }}</caption>
<thead><tr>
{%- for head in allocation_header %}
<th scope="col"{% if loop.index > 3 %} class="num"{% endif %}>{{ head }}</th>
{%- endfor %}
</tr></thead>
<tbody>
{%- for row in section.allocations %}
<tr class="status-{{ row.status }}{% if row.sub_pot %} delegation{% endif %}">
<td>{{ row.recipient }}<br><span class="ref">{{ row.reference }}</span></td>
<td>{{ row.purpose }}
{%- if row.tags %}<br><span class="ref">Tags: {{ row.tags | join(", ") }}</span>{% endif %}
{%- for note in row | notes %}<br><span class="ref">{{ note }}</span>{% endfor %}</td>
<td>{{ row.status | capitalize }}</td>
{{ amount(row.allocated_pence) }}
{{ amount(row.paid_pence) }}
</tr>
{%- else %}
<tr><td colspan="5">No allocations.</td></tr>
{%- endfor %}
</tbody>
{%- if section.allocations %}
{%- set n = section.allocations | length %}
<tfoot><tr>
<th scope="row" colspan="3">Total, {{ n }} allocation{{ "s" if n != 1 }}</th>
{{ amount(section.totals.allocated_pence) }}
{{ amount(section.totals.paid_pence) }}
</tr></tfoot>
{%- endif %}
</table>
<table class="totals">
<caption>Totals for {{ section.pot }}</caption>
<tbody>
{%- for label, pence in section | summary %}
<tr><th scope="row">{{ label }}</th>{{ amount(pence) }}</tr>
{%- endfor %}
</tbody>
</table>
<p class="balance-note{% if section | attention %} attention{% endif %}">
{{- section.balance_note }}</p>
</section>
{%- endfor %}
{%- if s.since %}
<section class="movements">
<table class="movements ds_table" data-smallscreen="scrolling">
<caption>Movements after {{ s.since | day }} up to {{ s.as_at | day }}</caption>
<thead><tr>
{%- for head in movement_header %}
<th scope="col"{% if loop.index > 1 %} class="num"{% endif %}>{{ head }}</th>
{%- endfor %}
</tr></thead>
<tbody>
{%- for move in s.movements %}
<tr{% if move.is_pot %} class="pot"{% endif %}>
{%- if move.is_pot %}<th scope="row">{{ move.what }}</th>
{%- else %}<td>{{ move.what }}</td>{% endif %}
{%- for pence in move | movement_amounts %}
{{ amount(pence) }}
{%- endfor %}
</tr>
{%- else %}
<tr><td colspan="6">Nothing moved in this period.</td></tr>
{%- endfor %}
</tbody>
</table>
</section>
{%- endif %}
<footer>
{%- if s.signoff %}
<p class="meta signed">{{ s | signed_line }}<br>{{ s | chain_line }}</p>
{%- else %}
<p class="meta">{{ s.organisation }}. Figures as at {{ s.as_at | day }}.
 Generated {{ s.generated_at | moment }} by commonpurse.</p>
{%- endif %}
</footer>
</article>
"""

PAGE = """\
<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="commonpurse">
<title>{{ s.title }}</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; color: #1a1a1a; max-width: 60rem; margin: 2rem auto;
  padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0.2rem 0; }
.kicker, .meta, .ref, footer { color: #555; }
.ref { font-size: 0.8em; }
table { border-collapse: collapse; width: 100%; margin: 0.8rem 0; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.4rem;
  border-bottom: 1px solid #bbb; }
thead th { background: #e6e6e6; }
tfoot th, tfoot td { font-weight: bold; border-top: 2px solid #888; }
.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.totals { width: auto; margin-left: auto; }
table.totals th { font-weight: normal; }
table.totals tr:last-child th, table.totals tr:last-child td { font-weight: bold;
  border-top: 2px solid #888; }
tr.assumption { background: #fff4ce; }
.balance-note { font-weight: bold; padding: 0.5rem 0.7rem; border: 1px solid #5a7896;
  background: #eef3f8; }
.balance-note.attention { border: 2px solid #b7791f; background: #fff4ce; }
section.depth-1 { margin-left: 1.5rem; }
section.depth-2 { margin-left: 3rem; }
@media print { body { max-width: none; margin: 0; } thead { display: table-header-group; } }
</style>
</head>
<body>
{{ fragment }}
</body>
</html>
"""


@cache
def _environment() -> Environment:
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters.update(
        money=money,
        day=day,
        moment=moment,
        years=financial_years,
        summary=summary_lines,
        notes=row_notes,
        section_note=section_note,
        attention=needs_attention,
        movement_amounts=movement_amounts,
        signed_line=signed_line,
        chain_line=chain_line,
    )
    env.globals.update(
        allocation_header=ALLOCATION_HEADER,
        award_header=AWARD_HEADER,
        movement_header=MOVEMENT_HEADER,
    )
    return env


@cache
def _template(source: str) -> Template:
    return _environment().from_string(source)


def render_html(statement: DistributionStatement, *, standalone: bool = True) -> str:
    """The statement as HTML: a whole page, or with ``standalone=False`` the fragment alone."""
    fragment = _template(FRAGMENT).render(s=statement)
    if not standalone:
        return fragment
    # The fragment is already escaped: Markup stops the page template escaping it twice.
    return _template(PAGE).render(s=statement, fragment=Markup(fragment))

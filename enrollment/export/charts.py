"""Plotly figures of progress: the ranking bars and the monitoring (trend) chart.

The same figures serve the page and the exported images, so the colours, labels and lines a leader
sees on the screen are those in the bulletin. Colours follow the Okabe–Ito palette, which stays
distinguishable for colour-blind readers; 进度落后 is its vermillion red.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import plotly.graph_objects as go

from ..campaigns.model import Campaign
from ..files.names import display_name
from ..labels import STATUS_LABELS

FONT_FAMILY = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
STATUS_COLORS = {
    "achieved": "#009E73",      # bluish green
    "on_track": "#0072B2",      # blue
    "behind": "#D55E00",        # vermillion: the red of the palette
    "not_reported": "#9E9E9E",  # grey
    "no_target": "#D9D9D9",
}
GOAL_COLOR = "#7A0019"
PACE_COLOR = "#E69F00"
INK = "#222222"


def _layout(fig: go.Figure, title: str | None, height: int, source_note: str | None,
            legend_y: float = -0.08) -> None:
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left", font=dict(size=18)) if title else None,
        height=height, font=dict(family=FONT_FAMILY, size=14, color=INK),
        margin=dict(l=10, r=20, t=70 if title else 30, b=90 if source_note else 60),
        plot_bgcolor="white", paper_bgcolor="white",
        legend=dict(orientation="h", yanchor="top", y=legend_y, xanchor="left", x=0,
                    title=None, font=dict(size=13)),
        hoverlabel=dict(font=dict(family=FONT_FAMILY)),
    )
    if source_note:
        fig.add_annotation(text=source_note, xref="paper", yref="paper", x=0, y=0,
                           yshift=-75, xanchor="left", yanchor="top", showarrow=False,
                           font=dict(size=12, color="#555555"))


def completion_range(values: list[float], goal: float, pace: float) -> tuple[float, float]:
    """An x range (in %) from 0, so that bar lengths compare as the rates do, to a little past
    the longest bar and the goal line (room for the labels of short bars, held outside)."""
    known = [v for v in values if v is not None and not math.isnan(v)]
    high = max(known + [goal * 100, pace * 100])
    return 0.0, high * 1.08


# A bar at least this share of the axis holds its label inside (at its end); shorter bars hold
# it just outside. So no label runs past the chart, even on a phone.
INSIDE_FROM = 0.45
INSIDE_INK = {"achieved": "white", "on_track": "white", "behind": "white",
              "not_reported": INK, "no_target": INK}


def ranking_chart(frame: pd.DataFrame, *, goal: float, pace: float, title: str | None = None,
                  source_note: str | None = None, worst_first: bool = True,
                  height: int | None = None) -> go.Figure:
    """Horizontal bars, one per unit, sorted by completion and coloured by status.

    Value labels on the bars, a line at the goal and one at the pace line; hover shows target,
    enrolled, gap and last week's change. Units without any figure get an empty bar labelled
    未上报. A unit whose own window gives it another pace line (a `pace` column that differs)
    gets a short mark at its own 序时目标 on its bar.
    """
    data = frame.copy()
    data["pct"] = data["completion"].astype("Float64") * 100
    data["label"] = data["name"].map(display_name)
    if data["label"].duplicated().any():      # bars are categories: labels must stay unique
        data["label"] = data["name"]
    # Plotly draws the first category at the bottom: put the worst there and reverse the axis.
    data = data.sort_values("pct", ascending=worst_first, na_position="first")
    pct = [None if pd.isna(v) else float(v) for v in data["pct"]]
    start, end = completion_range(pct, goal, pace)
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        part = data[data["status"] == status]
        if part.empty:
            continue
        values = [start if pd.isna(v) else float(v) for v in part["pct"]]
        labels = ["未上报" if pd.isna(v) else f"{v:.1f}%" for v in part["pct"]]
        if status == "not_reported":
            labels = [lb if lb == "未上报" else f"{lb}（本周未报）" for lb in labels]
        fig.add_trace(go.Bar(
            y=part["label"], x=values, base=None, orientation="h", name=STATUS_LABELS[status],
            marker=dict(color=color, line=dict(width=0)), text=labels,
            textposition=["inside" if v >= INSIDE_FROM * end else "outside" for v in values],
            insidetextanchor="end", cliponaxis=False, constraintext="none",
            textfont=dict(size=13), insidetextfont=dict(color=INSIDE_INK[status]),
            outsidetextfont=dict(color=INK, shadow="0px 0px 3px white"),
            customdata=list(zip(
                part["target"].map(_int), part["enrolled"].map(_int),
                part["gap_pp"].map(lambda v: "—" if pd.isna(v) else f"{v:+.2f}"),
                part["week_delta"].map(_int), part["code"], part["name"])),
            hovertemplate=("<b>%{customdata[5]}</b><br>任务数 %{customdata[0]}<br>累计参保 %{customdata[1]}"
                           "<br>完成率 %{text}<br>与序时目标差距 %{customdata[2]} 个百分点"
                           "<br>较上周增加 %{customdata[3]}<extra></extra>"),
        ))
    own = data[(data["pace"] - pace).abs() > 1e-9] if "pace" in data else data.iloc[0:0]
    if len(own):
        fig.add_trace(go.Scatter(
            x=[float(v) * 100 for v in own["pace"]], y=own["label"], mode="markers",
            name="本单位序时目标（参保期不同）", cliponaxis=False,
            marker=dict(symbol="line-ns", size=22, line=dict(width=3, color=PACE_COLOR)),
            hovertemplate="%{y}：本单位序时目标 %{x:.1f}%<extra></extra>"))
    order = list(data["label"])
    fig.update_yaxes(categoryorder="array", categoryarray=order, autorange="reversed",
                     tickfont=dict(size=14), automargin=True, showgrid=False)
    fig.update_xaxes(range=[start, end], ticksuffix="%", showgrid=True, gridcolor="#EEEEEE",
                     zeroline=False)
    fig.update_layout(barmode="overlay", bargap=0.25)
    # When the two lines are close (late in the window), their labels go to either side.
    close = abs(goal - pace) * 100 < (end - start) * 0.08
    for value, color, dash, text, side in (
            (goal * 100, GOAL_COLOR, "solid", f"目标 {goal * 100:.0f}%", "left"),
            (pace * 100, PACE_COLOR, "dash", f"序时 {pace * 100:.1f}%", "right")):
        if start <= value <= end:
            # Below the bars: a value label that falls on the line stays readable.
            fig.add_vline(x=value, line=dict(color=color, width=2, dash=dash), layer="below")
            fig.add_annotation(x=value, y=1, yref="paper", yanchor="bottom", text=text,
                               xanchor=side if close else "center", showarrow=False,
                               font=dict(color=color, size=12))
    rows = max(len(order), 1)
    _layout(fig, title, height or max(220, 34 * rows + 110), source_note)
    return fig


def _int(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"


TREND_TICKS = 5


def week_tick(campaign: Campaign, day: dt.date) -> str:
    return f"第{campaign.week_number(day)}周<br>{day:%m-%d}"


def trend_chart(series: pd.DataFrame, campaign: Campaign, *, title: str | None = None,
                source_note: str | None = None, projection: float | None = None,
                height: int = 380) -> go.Figure:
    """Cumulative enrolled week by week against the target, goal and pace lines.

    `series` has one row per week end (as_of, enrolled, target), e.g. progress.trend().
    `projection` is the enrolled count expected at the window's end (drawn dashed).
    """
    fig = go.Figure()
    target = series["target"].dropna()
    target = int(target.iloc[-1]) if len(target) else None
    if target:
        goal_total = float(campaign.goal) * target
        fig.add_trace(go.Scatter(
            x=[campaign.start, campaign.end], y=[0, goal_total], mode="lines",
            name=f"序时进度线（{campaign.goal:.0%}×序时）", line=dict(color=PACE_COLOR, dash="dash", width=2),
            hovertemplate="序时目标 %{y:,.0f}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=[campaign.start, campaign.end], y=[goal_total, goal_total], mode="lines",
            name=f"目标（{campaign.goal:.0%}）", line=dict(color=GOAL_COLOR, width=2),
            hovertemplate="目标 %{y:,.0f}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=[campaign.start, campaign.end], y=[target, target], mode="lines", name="任务数",
            line=dict(color="#555555", width=1, dash="dot"),
            hovertemplate="任务数 %{y:,.0f}<extra></extra>"))
    known = series.dropna(subset=["enrolled"])
    fig.add_trace(go.Scatter(
        x=list(known["as_of"]), y=[int(v) for v in known["enrolled"]], mode="lines+markers",
        name="累计参保人数", line=dict(color=STATUS_COLORS["on_track"], width=3),
        marker=dict(size=7),
        customdata=[week_tick(campaign, d).replace("<br>", " ") for d in known["as_of"]],
        hovertemplate="%{customdata}<br>累计参保 %{y:,}<extra></extra>"))
    if projection is not None and len(known):
        last = known.iloc[-1]
        if last["as_of"] < campaign.end:
            fig.add_trace(go.Scatter(
                x=[last["as_of"], campaign.end], y=[int(last["enrolled"]), projection],
                mode="lines", name="按近期进度预计", line=dict(color="#56B4E9", dash="dot", width=2),
                hovertemplate="预计期末 %{y:,.0f}<extra></extra>"))
    # At most five upright labels spread over the whole window (every fourth week of 17): they
    # stay apart on a phone's 250 pixels as on a projector; Plotly would otherwise tilt a label
    # for every week into one dense block.
    weeks = [min(campaign.week_end_of(n), campaign.end) for n in range(1, campaign.week_count + 1)]
    ticks = weeks[:: max(1, math.ceil(len(weeks) / TREND_TICKS))]
    # A date axis even when no trace holds a date (no report, no task yet).
    fig.update_xaxes(type="date", tickvals=ticks, ticktext=[week_tick(campaign, d) for d in ticks],
                     tickangle=0, tickfont=dict(size=12),
                     range=[campaign.start - dt.timedelta(days=2), campaign.end + dt.timedelta(days=2)],
                     showgrid=True, gridcolor="#EEEEEE")
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(tickformat=",d", rangemode="tozero", showgrid=True, gridcolor="#EEEEEE",
                     automargin=True)
    highest = max([target or 0, projection or 0] + [int(v) for v in known["enrolled"]])
    if highest < 10:
        # Plotly would tick 0, 0.5, 1 … and print them as 0, 0, 1 …: whole people only.
        fig.update_yaxes(dtick=1, range=[0, max(highest, 1) * 1.1])
    if known.empty:
        fig.add_annotation(text="暂无上报数据", xref="paper", yref="paper", x=0.5, y=0.5,
                           showarrow=False, font=dict(size=16, color="#777777"))
    _layout(fig, title, height, source_note, legend_y=-0.2)
    return fig

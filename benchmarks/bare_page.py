"""The floor of the browser benchmark: a bare Streamlit page with the widgets of 进度总览 (five
metrics, one horizontal bar chart with a bar per unit, three tabs) and none of its work: no
database, no query, fixed numbers. `benchmarks/browser.py` serves it beside the app in the same
run; BENCH_BARS sets the number of bars (the ranking's)."""

import os

import plotly.graph_objects as go
import streamlit as st

bars = int(os.environ.get("BENCH_BARS", "11"))
st.subheader("进度总览（基准页）")
for column, (label, value) in zip(st.columns(5), [
        ("累计参保人数", "1,234,567"), ("完成率", "91.2%"), ("序时进度", "88.0%"),
        ("剩余天数", "21"), ("预计期末完成率", "97.5%")]):
    column.metric(label, value, "+1.0")
names = [f"单位{n:03d}" for n in range(bars)]
values = [80 + (n * 37) % 20 for n in range(bars)]
fig = go.Figure(go.Bar(y=names, x=values, orientation="h", text=[f"{v:.1f}%" for v in values],
                       textposition="outside", cliponaxis=False))
fig.update_layout(height=max(220, 34 * bars + 110))
st.plotly_chart(fig, on_select="rerun", selection_mode="points", theme=None,
                config={"displayModeBar": False})
for tab, text in zip(st.tabs(["走势", "明细表", "未上报"]), ["走势", "明细表", "未上报"]):
    tab.write(text)

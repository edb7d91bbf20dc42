-- METRICS.md §4.3 identity, every row of both bases: mrr(d) = mrr(d−1) + net_mrr_movement(d)
-- + fx_adjustment(d). A check returns the rows that break it; none is a pass.
SELECT *
FROM (
    SELECT
        date,
        basis,
        currency,
        mrr,
        COALESCE(lag(mrr) OVER (PARTITION BY basis, currency ORDER BY date), 0) AS previous,
        net_mrr_movement,
        fx_adjustment
    FROM mrr_daily
) d
WHERE mrr <> previous + net_mrr_movement + fx_adjustment

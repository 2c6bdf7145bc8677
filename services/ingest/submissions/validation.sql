-- Every row check of API.md, in one pass over the rows named `staged` (the temporary table a
-- CSV is COPYed into, or a JSON submission's rows as a CTE before these). Each check that fails
-- adds 'field|code|message' to the row's errors; a row with no errors is valid. These are the
-- CTEs of one statement, ending in `checked`; store.py writes the valid rows in the same one.
metric AS (
    SELECT * FROM jsonb_to_recordset(CAST(:metrics AS jsonb)) AS m(
        code text, version int, status text, scope text, owner_area_code text, kind text,
        multiplier float8, periodicity text, valid_min float8, valid_max float8, decimals int)
), place AS (
    SELECT * FROM jsonb_to_recordset(CAST(:places AS jsonb)) AS p(code text, icb_code text)
), bound AS (
    SELECT CAST(:min_magnitude AS float8) AS low, CAST(:max_magnitude AS float8) AS high,
        CAST(:magnitude_rule AS text) AS magnitude_rule
), trimmed AS (
    -- Spreadsheets pad cells; surrounding blanks carry no meaning and an empty cell is no value.
    SELECT row_no, nullif(btrim(place_code, :blank), '') AS place_code,
        nullif(btrim(metric_code, :blank), '') AS metric_code,
        nullif(btrim(period, :blank), '') AS period, nullif(btrim(value, :blank), '') AS value,
        nullif(btrim(numerator, :blank), '') AS numerator,
        nullif(btrim(denominator, :blank), '') AS denominator, nullif(note, '') AS note
    -- OFFSET 0 keeps this a subquery of its own: inlined, each trim would be made at each use.
    FROM staged OFFSET 0
), period_fact AS (
    -- A file names few distinct periods: parse each once, not twice for every row.
    SELECT period, period_periodicity(period) AS form, period_end(period) AS last_day
    FROM (SELECT DISTINCT nullif(btrim(period, :blank), '') AS period FROM staged) AS periods
), parsed AS (
    SELECT s.row_no, s.place_code, s.metric_code, s.period, s.note,
        s.value AS value_text, s.numerator AS numerator_text, s.denominator AS denominator_text,
        -- A plain decimal number: only these characters (no NaN, Infinity, hex or blanks,
        -- which float8 would take), in a form float8 reads. Cheaper than a regular expression.
        CASE WHEN translate(s.value, '0123456789.eE+-', '') = ''
                  AND pg_input_is_valid(s.value, 'float8')
             THEN s.value::float8 END AS value_given,
        CASE WHEN translate(s.numerator, '0123456789.eE+-', '') = ''
                  AND pg_input_is_valid(s.numerator, 'float8')
             THEN s.numerator::float8 END AS numerator,
        CASE WHEN translate(s.denominator, '0123456789.eE+-', '') = ''
                  AND pg_input_is_valid(s.denominator, 'float8')
             THEN s.denominator::float8 END AS denominator,
        m.code IS NOT NULL AS metric_known, m.version AS metric_version, m.status, m.kind,
        m.multiplier, m.periodicity, m.valid_min, m.valid_max, m.decimals, m.scope,
        m.owner_area_code, pl.code IS NOT NULL AS place_known, pl.icb_code AS place_icb,
        f.form AS period_form, f.last_day AS period_last_day,
        min(s.row_no) OVER same_key AS first_row
    FROM trimmed s LEFT JOIN metric m ON m.code = s.metric_code
        LEFT JOIN place pl ON pl.code = s.place_code
        LEFT JOIN period_fact f ON f.period = s.period
    WINDOW same_key AS (PARTITION BY s.place_code, s.metric_code, s.period)
), derived AS (
    -- Every number stored must be within the bound of services/common/magnitude.py, so that
    -- the arithmetic on it here and in the progress refresh can neither overflow nor underflow
    -- (PostgreSQL raises an error for either). NULL when the number is absent.
    SELECT p.*, p.kind IN ('proportion', 'rate') AS is_ratio,
        p.kind IN ('proportion', 'rate') AND p.numerator IS NOT NULL AND p.denominator > 0
            AS has_ratio,
        p.value_given = 0 OR abs(p.value_given) BETWEEN b.low AND b.high
            AS value_bounded,
        p.numerator = 0 OR abs(p.numerator) BETWEEN b.low AND b.high
            AS numerator_bounded,
        abs(p.denominator) BETWEEN b.low AND b.high AS denominator_bounded,
        -- Definitions made before the bound existed may hold a multiplier beyond it.
        p.multiplier BETWEEN b.low AND b.high AS multiplier_bounded, b.magnitude_rule
    FROM parsed p, bound b
), computed AS (
    -- Within the bound the quotient is between 1e-36 and 1e36 (or 0): it cannot fail.
    SELECT d.*, CASE WHEN d.has_ratio AND d.numerator_bounded AND d.denominator_bounded
                          AND d.multiplier_bounded
                     THEN d.numerator / d.denominator * d.multiplier END AS value_derived
    FROM derived d
), bounded AS (
    SELECT c.*, coalesce(c.value_derived = 0
                         OR abs(c.value_derived) BETWEEN b.low AND b.high,
                         false) AS value_derived_bounded
    FROM computed c, bound b
), checked AS (
SELECT d.row_no, d.place_code, d.metric_code, d.period, d.note, d.metric_version,
    d.numerator, d.denominator, coalesce(d.value_given, d.value_derived) AS value,
    array_remove(ARRAY[
        CASE WHEN d.place_code IS NULL THEN 'place_code|required|place_code is required'
             WHEN NOT d.place_known THEN format('place_code|unknown_place|no place with code %s',
                                                d.place_code) END,
        CASE WHEN d.metric_code IS NULL THEN 'metric_code|required|metric_code is required'
             WHEN NOT d.metric_known THEN format('metric_code|unknown_metric|no metric with code %s',
                                                 d.metric_code)
             WHEN d.status <> 'active' THEN format('metric_code|retired_metric|metric %s is retired',
                                                   d.metric_code)
             -- A local metric is the business of the place or ICB that owns it.
             WHEN d.place_known AND d.scope = 'local'
                  AND d.owner_area_code NOT IN (d.place_code, d.place_icb) THEN format(
                 'metric_code|not_applicable|metric %s is local to %s; it does not apply to %s',
                 d.metric_code, d.owner_area_code, d.place_code) END,
        CASE WHEN d.period IS NULL THEN 'period|required|period is required'
             WHEN d.period_form IS NULL THEN format(
                 'period|invalid_period|%L is not a period (forms: 2025-07, 2025-Q2, 2025, FY2025-26)',
                 d.period)
             WHEN d.metric_known AND d.period_form <> d.periodicity THEN format(
                 'period|wrong_periodicity|metric %s is %s: use a form like %s, not %s',
                 d.metric_code, replace(d.periodicity, '_', ' '),
                 CASE d.periodicity WHEN 'monthly' THEN '2025-07' WHEN 'quarterly' THEN '2025-Q2'
                      WHEN 'annual' THEN '2025' ELSE 'FY2025-26' END, d.period)
             WHEN d.period_last_day >= current_date THEN format(
                 'period|period_not_ended|period %s has not ended (its last day is %s)',
                 d.period, d.period_last_day) END,
        CASE WHEN d.value_text IS NOT NULL AND d.value_given IS NULL THEN format(
                 'value|not_a_number|%L is not a number', d.value_text)
             WHEN d.metric_known AND NOT d.is_ratio AND d.value_given IS NULL
                 THEN format('value|required|a %s metric needs a value', d.kind)
             WHEN NOT d.value_bounded THEN format('value|magnitude|%s is beyond the bound: %s',
                                                  d.value_text, d.magnitude_rule)
             -- A numerator or denominator beyond the bound has its own error.
             WHEN d.has_ratio AND d.numerator_bounded AND d.denominator_bounded
                  AND NOT d.value_derived_bounded THEN format(
                 'value|magnitude|numerator / denominator x %s = %s is beyond the bound: %s',
                 d.multiplier, coalesce(d.value_derived::text, 'too far from 1 to compute'),
                 d.magnitude_rule)
             -- Half of the last decimal either way, so a value rounded to the metric's decimals
             -- agrees; a BETWEEN, because a subtraction could overflow.
             WHEN d.value_given NOT BETWEEN d.value_derived - (0.5 * 10 ^ (-d.decimals) + 1e-9)
                                        AND d.value_derived + (0.5 * 10 ^ (-d.decimals) + 1e-9)
                 THEN format('value|value_mismatch|value %s disagrees with numerator / denominator'
                             ' x %s = %s', d.value_text, d.multiplier,
                             round(d.value_derived::numeric, d.decimals))
             -- Within the bound every whole number is exact in float8, so this test is too.
             WHEN d.kind = 'count' AND d.value_given <> trunc(d.value_given) THEN format(
                 'value|not_an_integer|a count takes whole numbers, not %s', d.value_text)
             WHEN coalesce(d.value_given, d.value_derived) < d.valid_min THEN format(
                 'value|out_of_range|%s is below the minimum %s',
                 coalesce(d.value_given, d.value_derived), d.valid_min)
             WHEN coalesce(d.value_given, d.value_derived) > d.valid_max THEN format(
                 'value|out_of_range|%s is above the maximum %s',
                 coalesce(d.value_given, d.value_derived), d.valid_max) END,
        CASE WHEN d.numerator_text IS NOT NULL AND d.numerator IS NULL THEN format(
                 'numerator|not_a_number|%L is not a number', d.numerator_text)
             WHEN d.is_ratio AND d.numerator IS NULL
                 THEN format('numerator|required|a %s needs a numerator', d.kind)
             WHEN d.numerator < 0 THEN 'numerator|out_of_range|the numerator cannot be negative'
             WHEN d.metric_known AND NOT d.is_ratio AND d.numerator IS NOT NULL THEN format(
                 'numerator|unexpected|a %s metric takes no numerator', d.kind)
             WHEN NOT d.numerator_bounded THEN format(
                 'numerator|magnitude|%s is beyond the bound: %s', d.numerator_text,
                 d.magnitude_rule) END,
        CASE WHEN d.denominator_text IS NOT NULL AND d.denominator IS NULL THEN format(
                 'denominator|not_a_number|%L is not a number', d.denominator_text)
             WHEN d.is_ratio AND d.denominator IS NULL
                 THEN format('denominator|required|a %s needs a denominator', d.kind)
             WHEN d.denominator <= 0 THEN format(
                 'denominator|not_positive|the denominator must be above 0, not %s',
                 d.denominator_text)
             WHEN d.metric_known AND NOT d.is_ratio AND d.denominator IS NOT NULL THEN format(
                 'denominator|unexpected|a %s metric takes no denominator', d.kind)
             WHEN NOT d.denominator_bounded THEN format(
                 'denominator|magnitude|%s is beyond the bound: %s', d.denominator_text,
                 d.magnitude_rule) END,
        CASE WHEN length(d.note) > 1000 THEN 'note|too_long|the note is over 1000 characters'
             END,
        CASE WHEN d.row_no <> d.first_row THEN format(
                 'row|duplicate|the same place, metric and period as row %s', d.first_row) END
    ], NULL) AS errors
FROM bounded d
)

-- 0021: the map queries' exact tests (0014's nf_geo_intersects for bbox, nf_geo_distance_km for
-- near) read a bare Point directly. The general tests walk the geometry with JSON path queries in
-- subqueries, which keeps PostgreSQL from inlining them: a function call per candidate row, about
-- 20 us for the box test (most of a small bbox page's time in PostgreSQL) and far more for the
-- distance (a near page over 20,000 incidents ran into the statement timeout). A Point with only
-- `type`, `coordinates` and `bbox` members, its first two coordinates numbers within the range
-- 0014 reads, is tested as one point in the two boxes, or measured as one point from the centre,
-- in expressions PostgreSQL inlines; anything else takes the general test, unchanged under its
-- new name.

-- The general tests keep their bodies, under new names; the old names become the tests below.
ALTER FUNCTION nf_geo_intersects(jsonb, float8[]) RENAME TO nf_geo_intersects_parts;
ALTER FUNCTION nf_geo_distance_km(jsonb, float8, float8) RENAME TO nf_geo_distance_km_parts;

-- Whether g is a bare Point the fast test reads exactly as the general one would (nested CASEs:
-- an AND's operands may run in any order, and `-` refuses a scalar).
CREATE FUNCTION nf_geo_plain_point(g jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(g) = 'object' AND g ->> 'type' = 'Point' AND jsonb_typeof(g -> 'coordinates') = 'array'
        THEN CASE WHEN (g - 'type' - 'coordinates' - 'bbox') = '{}'::jsonb
                       AND jsonb_typeof(g #> '{coordinates,0}') = 'number' AND jsonb_typeof(g #> '{coordinates,1}') = 'number'
            THEN abs((g #>> '{coordinates,0}')::numeric) <= 1e9 AND abs((g #>> '{coordinates,1}')::numeric) <= 1e9
            ELSE false END
        ELSE false END
$$;

CREATE FUNCTION nf_geo_intersects(g jsonb, b float8[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN nf_geo_plain_point(g)
        THEN point((g #>> '{coordinates,0}')::float8, (g #>> '{coordinates,1}')::float8) <@ box(point(b[1], b[2]), point(b[3], b[4]))
          OR point((g #>> '{coordinates,0}')::float8, (g #>> '{coordinates,1}')::float8) <@ box(point(b[5], b[6]), point(b[7], b[8]))
        ELSE nf_geo_intersects_parts(g, b) END
$$;

CREATE FUNCTION nf_geo_distance_km(g jsonb, from_lon float8, from_lat float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN nf_geo_plain_point(g)
        THEN nf_km(from_lon, from_lat, (g #>> '{coordinates,0}')::float8, (g #>> '{coordinates,1}')::float8)
        ELSE nf_geo_distance_km_parts(g, from_lon, from_lat) END
$$;

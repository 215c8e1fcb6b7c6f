-- 0022: the map queries' general exact tests (0014's walk over a geometry's parts, which 0021 kept
-- for everything but a bare Point) run without JIT, and the box test in half the time; every
-- answer stays 0014's (tests/db/test_geo_general.py holds them equal over a generated set).
--
-- * JIT. A call of a test runs its statement afresh, and the planner's estimate for the path
--   queries inside it (a thousand rows each) costs that statement past jit_above_cost. On a server
--   built with JIT (Debian's packages, so production, though not the embedded server) every call
--   compiled it: 8-9 ms to measure a polygon or a line, which the statement itself does in a tenth
--   of a millisecond. A near page over 217 such candidates took 1.8-3.1 s, and in one run of four
--   hit the 4 s statement timeout, a 503 (bench/bench_geo.py). The tests now SET jit = off.
-- * The box test. 0014 read a part's positions a row at a time, and called nf_geo_polygon and
--   nf_geo_line_meets for each part and box: scalar SQL functions with a FROM, which PostgreSQL
--   does not inline, each a statement of its own. Here a part's positions are one array (one
--   jsonb_path_query_array, 0014's filter), and its segments and ring are read from that array in
--   the test's own plan.

-- The positions of a list (a line, a ring, a MultiPoint's coordinates) that 0014's nf_geo_points
-- reads, members that are arrays whose first two members are numbers within ±1e9, as one JSON array
-- of their coordinates in order: [lon1, lat1, lon2, lat2, …]. Empty for anything else. Inlined (no
-- FROM) into nf_geo_lists.
CREATE FUNCTION nf_geo_list_coordinates(positions jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_path_query_array(positions,
        'strict $[*] ? (@.type() == "array" && @.size() >= 2 && @[0].type() == "number" && @[1].type() == "number"
                        && @[0] >= -1e9 && @[0] <= 1e9 && @[1] >= -1e9 && @[1] <= 1e9)[0 to 1]',
        '{}', true), '[]')
$$;

-- The position lists of g's parts (nf_geo_parts), each with the shape it is tested as: a Point's
-- position and a MultiPoint's as points, a LineString and each line of a MultiLineString as a line,
-- the outer ring of a Polygon and of each of a MultiPolygon's polygons as a ring. ``xy``: the
-- coordinates of points and lines (lon1, lat1, lon2, lat2, …); ``ring``: the core polygon 0014's
-- nf_geo_polygon makes of a ring (NULL without a position), read from the same text: PostgreSQL's
-- polygon input takes a flat list of numbers, each read as float8 exactly as 0014 read them. Only
-- the rings when ``rings_only``: the distance reads no other list, and each costs a path query.
-- STABLE: the cast of text to float8[] is.
CREATE FUNCTION nf_geo_lists(g jsonb, rings_only boolean) RETURNS TABLE (shape text, xy float8[], ring polygon)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT s.shape,
           CASE WHEN s.shape <> 'ring' THEN translate(s.coordinates::text, '[]', '{}')::float8[] END,
           CASE WHEN s.shape = 'ring' AND jsonb_array_length(s.coordinates) > 0
                THEN translate(s.coordinates::text, '[]', '()')::polygon END
    FROM (
        SELECT CASE WHEN part.type IN ('Point', 'MultiPoint') THEN 'points'
                    WHEN part.type IN ('LineString', 'MultiLineString') THEN 'line'
                    ELSE 'ring' END AS shape,  -- Polygon, MultiPolygon: no other part has a list
               nf_geo_list_coordinates(l.positions) AS coordinates
        FROM nf_geo_parts(g) part
        CROSS JOIN LATERAL (
            SELECT jsonb_build_array(part.coords) WHERE part.type = 'Point' AND NOT rings_only
            UNION ALL SELECT part.coords WHERE part.type IN ('MultiPoint', 'LineString') AND NOT rings_only
            UNION ALL SELECT part.coords -> 0 WHERE part.type = 'Polygon'
            UNION ALL SELECT e FROM jsonb_array_elements(part.coords) e WHERE part.type = 'MultiLineString' AND NOT rings_only
            UNION ALL SELECT e -> 0 FROM jsonb_array_elements(part.coords) e WHERE part.type = 'MultiPolygon'
        ) l(positions)
        OFFSET 0  -- read once: flattened, each reference to coordinates below would run the path query again
    ) s
    -- Nor flattened into the test that reads it, where each reference to xy (four a segment) would
    -- be the path query and the cast again.
    OFFSET 0
$$;

-- 0014's box test: a point in a box, a line's segment (or its only position) meeting it, a ring's
-- polygon overlapping it (a box inside a hole counts). No JIT (above).
CREATE OR REPLACE FUNCTION nf_geo_intersects_parts(g jsonb, b float8[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET jit = off AS $$
    SELECT EXISTS (
        SELECT 1
        FROM (VALUES (box(point(b[1], b[2]), point(b[3], b[4]))),
                     (box(point(b[5], b[6]), point(b[7], b[8])))) x(bx),
             nf_geo_lists(g, false) l
        WHERE CASE l.shape
            WHEN 'points' THEN EXISTS (SELECT 1 FROM generate_series(1, cardinality(l.xy) / 2) i
                                       WHERE point(l.xy[2 * i - 1], l.xy[2 * i]) <@ x.bx)
            WHEN 'line' THEN CASE WHEN cardinality(l.xy) = 2 THEN point(l.xy[1], l.xy[2]) <@ x.bx
                ELSE EXISTS (SELECT 1 FROM generate_series(1, cardinality(l.xy) / 2 - 1) i
                             WHERE lseg(point(l.xy[2 * i - 1], l.xy[2 * i]), point(l.xy[2 * i + 1], l.xy[2 * i + 2])) ?# x.bx) END
            ELSE coalesce(l.ring && polygon(x.bx), false) END)
$$;

-- 0014's distance: 0 inside a ring, else to the nearest position. No JIT (above).
CREATE OR REPLACE FUNCTION nf_geo_distance_km_parts(g jsonb, from_lon float8, from_lat float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET jit = off AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM nf_geo_lists(g, true) l WHERE point(from_lon, from_lat) <@ l.ring)
        THEN 0::float8
        ELSE (SELECT min(nf_km(from_lon, from_lat, p.lon, p.lat)) FROM nf_geo_positions(g) p)
    END
$$;

-- 0014: what the analytics reads need from PostgreSQL itself (issue 24): map queries over the
-- GeoJSON that deployments (region) and incidents (location) store, and the guards and formats of
-- date histograms. Core PostgreSQL only — the embedded build has no PostGIS, btree_gist or pg_trgm:
--
-- * nf_geo_box(geojson) is a geometry's bounding box as a core `box` (lon, lat), NULL without
--   coordinates. A GiST index on that expression, on each table and its history (so asOf reads
--   probe it too), finds the candidates of a bbox or near query; nf_geo_intersects and
--   nf_geo_distance_km then test each candidate exactly.
-- * Positions are read wherever a GeoJSON object nests them (geometries, collections, features);
--   a position is two numbers, anything else in `coordinates` is skipped rather than refused, so
--   no stored document can make a read fail.

-- Every position of a GeoJSON object: the members of each `coordinates` that are [number, number, …].
CREATE FUNCTION nf_geo_positions(g jsonb) RETURNS TABLE (lon float8, lat float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (p ->> 0)::float8, (p ->> 1)::float8
    FROM jsonb_path_query(g, 'strict $.**.coordinates') c,
         jsonb_path_query(c, 'strict $.** ? (@.type() == "array" && @.size() >= 2
                                             && @[0].type() == "number" && @[1].type() == "number"
                                             && @[0] >= -1e9 && @[0] <= 1e9 && @[1] >= -1e9 && @[1] <= 1e9)') p
$$;

-- The bounding box of every position (NULL when there is none): what the GiST indexes hold.
CREATE FUNCTION nf_geo_box(g jsonb) RETURNS box
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT box(point(min(lon), min(lat)), point(max(lon), max(lat))) FROM nf_geo_positions(g)
$$;

-- The geometries inside a GeoJSON object (a Feature's, a collection's members), with their type.
CREATE FUNCTION nf_geo_parts(g jsonb) RETURNS TABLE (type text, coords jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT o ->> 'type', o -> 'coordinates'
    FROM jsonb_path_query(g, 'strict $.** ? (@.type() == "object" && @.coordinates.type() == "array")') o
$$;

-- A list of positions (a line or a ring) as points in order, numbers only.
CREATE FUNCTION nf_geo_points(positions jsonb) RETURNS TABLE (pt point, ord bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT point((p ->> 0)::float8, (p ->> 1)::float8), o
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(positions) = 'array' THEN positions ELSE '[]' END)
         WITH ORDINALITY e(p, o)
    WHERE jsonb_typeof(p) = 'array' AND jsonb_typeof(p -> 0) = 'number' AND jsonb_typeof(p -> 1) = 'number'
      AND abs((p ->> 0)::numeric) <= 1e9 AND abs((p ->> 1)::numeric) <= 1e9
$$;

-- A ring as a core polygon (NULL when it has no position).
CREATE FUNCTION nf_geo_polygon(ring jsonb) RETURNS polygon
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN count(*) > 0
                THEN ('(' || string_agg(format('(%s,%s)', pt[0], pt[1]), ',' ORDER BY ord) || ')')::polygon END
    FROM nf_geo_points(ring)
$$;

-- Whether a line's segments (or its only position) meet a box.
CREATE FUNCTION nf_geo_line_meets(line jsonb, b box) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(bool_or(CASE WHEN nxt IS NULL THEN pt <@ b ELSE lseg(pt, nxt) ?# b END), false)
    FROM (SELECT pt, lead(pt) OVER (ORDER BY ord) AS nxt, count(*) OVER () AS n FROM nf_geo_points(line)) s
    WHERE nxt IS NOT NULL OR n = 1
$$;

-- The exact test after the index: does the geometry share a point with one of the boxes
-- b[1:4] or b[5:8] (minLon, minLat, maxLon, maxLat each; a box across the antimeridian arrives
-- as its two halves)? Polygons are tested by their outer ring (a box inside a hole counts).
CREATE FUNCTION nf_geo_intersects(g jsonb, b float8[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1
        FROM (VALUES (box(point(b[1], b[2]), point(b[3], b[4]))),
                     (box(point(b[5], b[6]), point(b[7], b[8])))) x(bx),
             nf_geo_parts(g) part
        WHERE CASE part.type
            WHEN 'Point' THEN EXISTS (SELECT 1 FROM nf_geo_points(jsonb_build_array(part.coords)) p WHERE p.pt <@ x.bx)
            WHEN 'MultiPoint' THEN EXISTS (SELECT 1 FROM nf_geo_points(part.coords) p WHERE p.pt <@ x.bx)
            WHEN 'LineString' THEN nf_geo_line_meets(part.coords, x.bx)
            WHEN 'MultiLineString' THEN EXISTS (
                SELECT 1 FROM jsonb_array_elements(part.coords) l(line) WHERE nf_geo_line_meets(l.line, x.bx))
            WHEN 'Polygon' THEN coalesce(nf_geo_polygon(part.coords -> 0) && polygon(x.bx), false)
            WHEN 'MultiPolygon' THEN EXISTS (
                SELECT 1 FROM jsonb_array_elements(part.coords) q(poly)
                WHERE nf_geo_polygon(q.poly -> 0) && polygon(x.bx))
            ELSE false END)
$$;

-- Great-circle distance in km (mean Earth radius 6,371.0088 km) between two lon/lat points.
CREATE FUNCTION nf_km(lon1 float8, lat1 float8, lon2 float8, lat2 float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 2 * 6371.0088 * asin(least(1, sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2
        + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)))
$$;

-- How far a geometry is from a point, in km: 0 inside one of its polygons (outer ring), else the
-- distance to its nearest position (exact for points; for lines and polygons, to the nearest vertex).
CREATE FUNCTION nf_geo_distance_km(g jsonb, from_lon float8, from_lat float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN EXISTS (
            SELECT 1 FROM nf_geo_parts(g) part
            WHERE (part.type = 'Polygon' AND point(from_lon, from_lat) <@ nf_geo_polygon(part.coords -> 0))
               OR (part.type = 'MultiPolygon' AND EXISTS (
                   SELECT 1 FROM jsonb_array_elements(part.coords) q(poly)
                   WHERE point(from_lon, from_lat) <@ nf_geo_polygon(q.poly -> 0))))
        THEN 0::float8
        ELSE (SELECT min(nf_km(from_lon, from_lat, p.lon, p.lat)) FROM nf_geo_positions(g) p) END
$$;

-- Facets of a whole table read every row: claims' plain facet columns (and sourcing, which the
-- recall rules test) in one narrow index make that an index-only scan instead of a pass over the
-- wide heap (60,000 claims: 41 ms instead of 100-190 ms for three facets on this machine).
CREATE INDEX claims_facets_idx ON claims (status, quote_type, speaker_id, reported_by_id, sourcing);

CREATE INDEX deployments_region_box_idx ON deployments USING gist (nf_geo_box(region_geojson));
CREATE INDEX deployments_region_box_idx_history ON deployments_history USING gist (nf_geo_box(region_geojson));
CREATE INDEX incidents_location_box_idx ON incidents USING gist (nf_geo_box(location_geojson));
CREATE INDEX incidents_location_box_idx_history ON incidents_history USING gist (nf_geo_box(location_geojson));

-- An instant as ISO 8601 in a time zone: its wall-clock time there and that zone's UTC offset
-- at that instant ("2025-03-30T00:00:00+01:00"; "Z" at offset zero): a histogram bucket's start
-- and end, which across a daylight-saving change carry different offsets.
CREATE FUNCTION nf_iso(at timestamptz, tz text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(at AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN o = interval '0' THEN 'Z'
                ELSE (CASE WHEN o < interval '0' THEN '-' ELSE '+' END) || to_char(abs(extract(epoch FROM o)) * interval '1 second', 'HH24:MI') END
    FROM (SELECT (at AT TIME ZONE tz) - (at AT TIME ZONE 'UTC') AS o) z
$$;

-- A histogram's bucket count, checked before its buckets are generated: past the limit the read is
-- refused (SQLSTATE NFA01, db/errors.py makes it BAD_USER_INPUT naming `interval`), whatever span
-- the data turned out to cover.
CREATE FUNCTION nf_bucket_limit(n bigint, max_buckets int, interval_name text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF n > max_buckets THEN
        RAISE EXCEPTION 'the histogram would have % buckets of a %, more than % allowed: use a coarser interval or a shorter from/to',
            n, interval_name, max_buckets
            USING ERRCODE = 'NFA01', HINT = 'interval';
    END IF;
    RETURN n;
END
$$;

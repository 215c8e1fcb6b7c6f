// Quantities read aloud with their uncertainty, as a reporter would: "about 10,000 troops",
// "at least 65 killed", "fighter jets — number not stated".

const number = (n) => Number(n).toLocaleString("en-US");

const ASSET_NOUNS = {
  AIRCRAFT_CARRIER: ["aircraft carrier", "aircraft carriers"],
  WARSHIP: ["warship", "warships"],
  SUBMARINE: ["submarine", "submarines"],
  TROOPS: ["troops", "troops"],
  FIGHTER_JET: ["fighter jet", "fighter jets"],
  BOMBER: ["bomber", "bombers"],
  DRONE: ["drone", "drones"],
  HELICOPTER: ["helicopter", "helicopters"],
  AIRCRAFT: ["aircraft", "aircraft"],
  MISSILE_SYSTEM: ["missile system", "missile systems"],
  AIR_DEFENSE: ["air-defence system", "air-defence systems"],
  ARMORED_VEHICLE: ["armoured vehicle", "armoured vehicles"],
  ARTILLERY: ["artillery piece", "artillery pieces"],
  OTHER: ["asset", "assets"],
};

/** "about 10,000" + noun; with no number stated, "<noun> — number not stated". */
export function readQuantity(q, noun = "") {
  const tail = noun ? ` ${noun}` : "";
  switch (q?.approximation) {
    case "EXACT":
      if (q.amount != null) return `${number(q.amount)}${tail}`;
      break;
    case "APPROXIMATELY":
      if (q.amount != null) return `about ${number(q.amount)}${tail}`;
      break;
    case "AT_LEAST":
      if ((q.lowerBound ?? q.amount) != null) return `at least ${number(q.lowerBound ?? q.amount)}${tail}`;
      break;
    case "AT_MOST":
      if ((q.upperBound ?? q.amount) != null) return `at most ${number(q.upperBound ?? q.amount)}${tail}`;
      break;
    case "RANGE":
      if (q.lowerBound != null && q.upperBound != null) {
        return `between ${number(q.lowerBound)} and ${number(q.upperBound)}${tail}`;
      }
      break;
  }
  return `${noun || "quantity"} — number not stated`;
}

/** An asset's quantity with its type as the noun, singular for exactly one. */
export function readAsset(asset) {
  const [one, many] = ASSET_NOUNS[asset.assetType] ?? ASSET_NOUNS.OTHER;
  const q = asset.quantity ?? { approximation: "UNSPECIFIED" };
  const single = q.approximation === "EXACT" && q.amount === 1;
  return readQuantity(q, single ? one : many);
}

/** An incident's figures: "16 attacks", "at least 65 killed", "injured — number not stated". */
export function readIncidentFigures(incident) {
  const out = [];
  if (incident.count) out.push(readQuantity(incident.count, incident.count.unit || "events"));
  for (const [field, verb] of [["fatalities", "killed"], ["injuries", "injured"]]) {
    const q = incident[field];
    if (!q) continue;
    out.push(q.approximation === "UNSPECIFIED" ? `${verb} — number not stated` : `${readQuantity(q)} ${verb}`);
  }
  return out;
}

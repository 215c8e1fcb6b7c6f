// The TypeScript type of newsfacts' JSON scalar (codegen.ts maps it here): any JSON value.
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

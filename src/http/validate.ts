import { validator } from "hono-openapi";
import type { z } from "zod";
import { ApiError } from "./errors";

/**
 * A validator for one target; failures become the one error format. hono-openapi's, so the
 * schema also documents the parameter or body in /openapi.json.
 */
export const valid = <T extends z.ZodType, Target extends "query" | "param" | "json">(target: Target, schema: T) =>
	validator(target, schema, (result) => {
		if (!result.success) throw ApiError.invalid(result.error, target);
	});

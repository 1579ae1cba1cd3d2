import { validator } from "hono/validator";
import type { z } from "zod";
import { ApiError } from "./errors";

/** A Hono validator for one target; failures become the one error format. */
export const valid = <T extends z.ZodType>(target: "query" | "param" | "json", schema: T) =>
	validator(target, (value): z.output<T> => {
		const result = schema.safeParse(value);
		if (!result.success) throw ApiError.invalid(result.error, target);
		return result.data;
	});

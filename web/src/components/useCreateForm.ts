import { useState } from 'react';
import { useForm, type FieldValues, type Path, type UseFormProps } from 'react-hook-form';
import { setServerFieldError } from './ErrorAlert';

/**
 * A create form's plumbing, shared by the pages that add things (tenants, numbers, invitations):
 * React Hook Form with the page's resolver and defaults, and a submit that clears the last outcome,
 * runs `create`, then resets the form and keeps what `create` returned (a success message, or
 * the created thing) as `done`. When the server refuses, its message goes next to the field it
 * names if the form has it (`fields`), else above the form as `failure`.
 */
export function useCreateForm<Values extends FieldValues, Done = string>(
  options: UseFormProps<Values>,
  fields: readonly Path<Values>[],
) {
  const form = useForm<Values>(options);
  const [failure, setFailure] = useState<unknown>(null);
  const [done, setDone] = useState<Done | null>(null);
  const submit = (create: (values: Values) => Promise<Done>) =>
    form.handleSubmit(async (values) => {
      setFailure(null);
      setDone(null);
      try {
        const result = await create(values);
        form.reset();
        setDone(result);
      } catch (error) {
        if (!setServerFieldError<Values>(error, fields, form.setError)) setFailure(error);
      }
    });
  return { form, failure, done, submit };
}

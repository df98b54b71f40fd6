import * as Label from '@radix-ui/react-label';
import { forwardRef, useId, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from 'react';

/** The error under a field, announced with it (`aria-describedby`). */
function FieldError({ id, error }: { id: string; error: string | undefined }) {
  return error ? (
    <p id={id} className="field__error">
      {error}
    </p>
  ) : null;
}

interface SelectFieldProps extends SelectHTMLAttributes<HTMLSelectElement> {
  label: string;
  error?: string | undefined;
  children: ReactNode;
}

/** A labelled `<select>` whose error sits next to it. */
export const SelectField = forwardRef<HTMLSelectElement, SelectFieldProps>(function SelectField(
  { label, error, id, children, className, ...props },
  ref,
) {
  const generatedId = useId();
  const selectId = id ?? generatedId;
  return (
    <div className={className ? `field ${className}` : 'field'}>
      <Label.Root className="field__label" htmlFor={selectId}>
        {label}
      </Label.Root>
      <select
        ref={ref}
        id={selectId}
        className="field__input"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${selectId}-error` : undefined}
        {...props}
      >
        {children}
      </select>
      <FieldError id={`${selectId}-error`} error={error} />
    </div>
  );
});

interface TextAreaFieldProps extends TextareaHTMLAttributes<HTMLTextAreaElement> {
  label: string;
  error?: string | undefined;
  /** A hint under the label, read with the field. */
  hint?: string;
}

/** A labelled `<textarea>` whose error sits next to it. */
export const TextAreaField = forwardRef<HTMLTextAreaElement, TextAreaFieldProps>(function TextAreaField(
  { label, error, hint, id, ...props },
  ref,
) {
  const generatedId = useId();
  const areaId = id ?? generatedId;
  const describedBy = [hint ? `${areaId}-hint` : '', error ? `${areaId}-error` : ''].filter(Boolean).join(' ');
  return (
    <div className="field">
      <Label.Root className="field__label" htmlFor={areaId}>
        {label}
      </Label.Root>
      {hint ? (
        <p id={`${areaId}-hint`} className="field__hint">
          {hint}
        </p>
      ) : null}
      <textarea
        ref={ref}
        id={areaId}
        className="field__input field__textarea"
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        {...props}
      />
      <FieldError id={`${areaId}-error`} error={error} />
    </div>
  );
});

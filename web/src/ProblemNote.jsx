import { FormStatus } from '@vkontakte/vkui';

// A refusal as the service worded it: the Russian title, and the detail when there is one.
export function ProblemNote({ problem }) {
  if (!problem) return null;
  return (
    <FormStatus mode="error" title={problem.title} role="alert" data-problem={problem.type || undefined}>
      {problem.detail}
    </FormStatus>
  );
}

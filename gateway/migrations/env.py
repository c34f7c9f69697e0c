from gateway.models import Base
from pentad.migrate import run_env

run_env(Base.metadata)
